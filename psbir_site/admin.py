"""Admin registrations of the site's top floor (Django's autodiscovery imports this module)."""

from psbir_site.user_data import admin as user_data_admin  # noqa: F401  (registers User)
