from django.apps import AppConfig


class PsbirSiteConfig(AppConfig):
    name = "psbir_site"
    verbose_name = "PSBIR site"
    default_auto_field = "django.db.models.BigAutoField"
