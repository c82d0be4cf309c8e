from django.apps import AppConfig


class RetrievalConfig(AppConfig):
    name = "retrieval"
    verbose_name = "Image libraries and sketch search"
    default_auto_field = "django.db.models.BigAutoField"
