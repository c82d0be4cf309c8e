"""The Engine facade on the real converted weights: shapes, dtypes, errors, versions."""

from __future__ import annotations

import re
import threading

import numpy as np
import pytest
import torch

from retrieval.engine import pipeline
from retrieval.engine.encoder import Conv6Head
from retrieval.engine.errors import ModelNotReadyError, SketchError
from retrieval.engine.heads import save_head
from retrieval.engine.pipeline import Engine, EngineConfig

from .conftest import white_square_on_black
from .sketches import as_payload, draw_lines, shape_outline


@pytest.fixture(scope="module")
def engine(model_dir, head_path) -> Engine:
    return Engine(EngineConfig(model_dir=model_dir, head_path=head_path, device="cpu"))


def _binary(m: np.ndarray) -> bool:
    return m.dtype == np.uint8 and m.shape == (256, 256) and set(np.unique(m)) <= {0, 255}


def test_embed_photos_returns_edge_map_features_and_vector(engine):
    wide = np.zeros((120, 300, 3), np.uint8)
    wide[30:90, 100:200] = (250, 240, 20)
    out = engine.embed_photos([white_square_on_black(200, 40, 160), wide])
    assert len(out) == 2
    for emb in out:
        assert _binary(emb.edge_map) and (emb.edge_map == 0).any()
        assert emb.features.dtype == np.float16 and emb.features.shape == (512, 8, 8)
        assert emb.vector.dtype == np.float32 and emb.vector.shape == (512,)
    # Vectors come from the stored float16 maps: re-embedding from a cache gives the same.
    np.testing.assert_array_equal(
        engine.head_vectors(np.stack([e.features for e in out])), np.stack([e.vector for e in out])
    )
    assert engine.embed_photos([]) == []


def test_embed_sketches_from_strokes_and_from_an_image(engine):
    lines = shape_outline("circle", np.random.default_rng(0))
    from_strokes = engine.embed_sketch_strokes(as_payload(lines))
    from_image = engine.embed_sketch_image(draw_lines(lines))
    for emb in (from_strokes, from_image):
        assert _binary(emb.sketch_map)
        assert emb.features.shape == (512, 8, 8) and emb.features.dtype == np.float16
        assert emb.vector.shape == (512,) and emb.vector.dtype == np.float32
    rgb = np.repeat(draw_lines(lines)[:, :, None], 3, axis=2)
    np.testing.assert_array_equal(engine.embed_sketch_image(rgb).vector, from_image.vector)
    with pytest.raises(SketchError):
        engine.embed_sketch_strokes({"width": 10, "height": 10, "strokes": []})
    with pytest.raises(SketchError):
        engine.embed_sketch_image(np.full((50, 50), 255, np.uint8))


def test_head_vectors_with_another_head(engine):
    feats = np.random.default_rng(0).random((3, 512, 8, 8)).astype(np.float16)
    torch.manual_seed(1)
    other = Conv6Head()
    general = engine.head_vectors(feats)
    personal = engine.head_vectors(feats, head=other)
    assert personal.shape == general.shape == (3, 512) and personal.dtype == np.float32
    assert not np.allclose(personal, general)
    with pytest.raises(ValueError):
        engine.head_vectors(np.zeros((3, 512, 4, 4), np.float32))


def test_model_version_is_stable_and_tracks_the_head(engine, model_dir, tmp_path):
    assert re.fullmatch(r"g\d+-[0-9a-f]{8}", engine.model_version)
    same = Engine(EngineConfig(model_dir=model_dir, head_path=engine.head_path, device="cpu"))
    assert same.model_version == engine.model_version
    torch.manual_seed(2)
    save_head(Conv6Head(), tmp_path / "other.pt", metadata={})
    other = Engine(EngineConfig(model_dir=model_dir, head_path=tmp_path / "other.pt"))
    assert other.model_version != engine.model_version
    canny = Engine(
        EngineConfig(model_dir=model_dir, head_path=engine.head_path, edge_method="canny")
    )
    assert canny.model_version != engine.model_version
    assert _binary(canny.embed_photos([white_square_on_black()])[0].edge_map)


def test_missing_head_names_the_command_that_creates_it(model_dir, tmp_path):
    with pytest.raises(ModelNotReadyError, match=r"python -m retrieval\.lab train"):
        Engine(EngineConfig(model_dir=model_dir, head_path=tmp_path / "none.pt"))
    with pytest.raises(ValueError):
        Engine(EngineConfig(model_dir=model_dir, head_path=tmp_path / "x.pt", edge_method="gpb"))


def test_inference_is_thread_safe(engine):
    payload = as_payload(shape_outline("triangle", np.random.default_rng(5)))
    expected = engine.embed_sketch_strokes(payload).vector
    results: list[np.ndarray] = []

    def work():
        results.append(engine.embed_sketch_strokes(payload).vector)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3
    for r in results:
        np.testing.assert_allclose(r, expected, rtol=1e-5, atol=1e-4)


def test_get_engine_caches_one_engine_per_config(model_dir, head_path):
    pipeline.clear_engines()
    config = EngineConfig(model_dir=model_dir, head_path=head_path, device="cpu")
    assert pipeline.get_engine(config) is pipeline.get_engine(config)
    pipeline.clear_engines()


def test_a_query_sketch_is_averaged_with_its_mirror_image(model_dir):
    # The product's engine (Lite2 head); the stored query map stays the sketch as drawn.
    engine = Engine(EngineConfig(model_dir=model_dir, device="cpu"))
    assert engine.config.mirror_queries
    image = draw_lines(shape_outline("triangle", np.random.default_rng(3)))
    query = engine.embed_sketch_image(image)
    mirrored = np.ascontiguousarray(query.sketch_map[:, ::-1])
    features, vectors = engine.embed_binary_maps([query.sketch_map, mirrored])
    np.testing.assert_array_equal(query.features, features[0])
    np.testing.assert_allclose(
        query.vector, pipeline.mirror_mean(vectors[0], vectors[1]), atol=1e-5
    )
    assert np.linalg.norm(vectors[0] - vectors[1]) > 0.01  # the mirror image is another input
    plain = Engine(EngineConfig(model_dir=model_dir, device="cpu", mirror_queries=False))
    np.testing.assert_allclose(plain.embed_sketch_image(image).vector, vectors[0], atol=1e-5)


def test_vectors_from_pooled_features_are_the_heads_vectors(model_dir):
    """What a rebuild serves from the kept pooled features (float16) is the vector indexing
    computed from the trunk map, up to that rounding; a conv6 head has no pooled features."""
    engine = Engine(EngineConfig(model_dir=model_dir, device="cpu"))
    rng = np.random.default_rng(5)
    photos = [(rng.random((96, 96, 3)) * 255).astype(np.uint8) for _ in range(6)]
    embedded = engine.embed_photos(photos)
    maps = np.stack([e.features for e in embedded])
    pooled = engine.pooled_features(maps)
    assert pooled.dtype == np.float16 and pooled.shape == (6, 1280)
    rebuilt = engine.vectors_from_pooled(pooled)
    np.testing.assert_allclose(rebuilt, np.stack([e.vector for e in embedded]), atol=2e-3)
    assert not hasattr(Conv6Head(), "pooled")  # conv6 heads: maps only (has_pooled_features)
