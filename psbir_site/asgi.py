"""ASGI entry point: HTTP through Django, websockets through Channels with session auth."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "psbir_site.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import path  # noqa: E402

from psbir_site.consumers import EventsConsumer  # noqa: E402
from psbir_site.daphne_bodies import leave_bodies_to_django  # noqa: E402

leave_bodies_to_django()

if settings.PSBIR_PRELOAD_MODEL:
    # Load the model now, off the request path: the first search costs what the others do.
    from retrieval.engine_runtime import start_warm_up  # noqa: E402

    start_warm_up()

websocket_urlpatterns = [path("ws/events/", EventsConsumer.as_asgi())]

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
