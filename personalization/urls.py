from django.urls import path

from personalization import views

app_name = "personalization"

urlpatterns = [
    path("personalization/", views.dashboard, name="dashboard"),
    path("personalization/people/", views.people, name="people"),
    path("personalization/people/<int:user_id>/", views.user_history, name="user-history"),
    path(
        "personalization/people/<int:user_id>/deactivate/",
        views.user_deactivate,
        name="user-deactivate",
    ),
    path("personalization/heads/<int:pk>/activate/", views.head_activate, name="head-activate"),
]
