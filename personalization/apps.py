from django.apps import AppConfig


class PersonalizationConfig(AppConfig):
    name = "personalization"
    verbose_name = "Personalized heads and feedback"
    default_auto_field = "django.db.models.BigAutoField"
