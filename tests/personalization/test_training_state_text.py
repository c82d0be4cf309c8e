"""The training line of the personalization panel: the badge and the message beside it say
different things (a state, then what is happening), never "training" twice."""

from __future__ import annotations

import re

from django.template.loader import render_to_string

from personalization.models import TrainingJob


def _state_text(job: TrainingJob | None) -> str:
    html = render_to_string(
        "personalization/_training_state.html",
        {
            "status": {
                "job": job,
                "active_version": None,
                "new_feedback_sketches": 0,
                "threshold": 5,
            }
        },
    )
    line = html[html.index('class="pz-training-line"') : html.index("</p>")]
    return " ".join(re.sub(r"<[^>]+>", " ", line.split(">", 1)[1]).split())


def test_training_badge_and_message_do_not_say_training_twice():
    # A job stored by an older version still carries the bare "Training" message.
    job = TrainingJob(state=TrainingJob.State.TRAINING, message="Training", progress=5)
    assert _state_text(job) == "Training"
    job.message = "Round 2 of 8"
    assert _state_text(job) == "Training Round 2 of 8"
    assert _state_text(None) == "Not trained yet"


def test_the_training_step_message_says_more_than_the_badge():
    import inspect

    from personalization.services import training

    source = inspect.getsource(training)
    assert 'job.message = 5, "Training"' not in source
    assert "Fine-tuning on your marked sketches" in source
