from django.urls import path

from personalization import apis

app_name = "personalization-api"

urlpatterns = [
    path("personalization/feedback/", apis.FeedbackListApi.as_view(), name="feedback-list"),
    path(
        "personalization/queries/<int:pk>/forget/",
        apis.QueryFeedbackForgetApi.as_view(),
        name="query-feedback-forget",
    ),
    path(
        "personalization/sessions/<int:pk>/forget/",
        apis.SessionFeedbackForgetApi.as_view(),
        name="session-feedback-forget",
    ),
    path(
        "personalization/feedback/<int:pk>/",
        apis.FeedbackDetailApi.as_view(),
        name="feedback-detail",
    ),
    path("personalization/settings/", apis.SettingsApi.as_view(), name="settings"),
    path("personalization/status/", apis.StatusApi.as_view(), name="status"),
    path("personalization/training/", apis.TrainingRequestApi.as_view(), name="training"),
    path("personalization/jobs/", apis.JobListApi.as_view(), name="job-list"),
    path("personalization/jobs/<int:pk>/", apis.JobDetailApi.as_view(), name="job-detail"),
    path("personalization/heads/", apis.HeadListApi.as_view(), name="head-list"),
    path("personalization/heads/<int:pk>/", apis.HeadDetailApi.as_view(), name="head-detail"),
    path(
        "personalization/heads/<int:pk>/activate/",
        apis.HeadActivateApi.as_view(),
        name="head-activate",
    ),
    path(
        "personalization/users/<int:user_id>/heads/",
        apis.UserHeadListApi.as_view(),
        name="user-heads",
    ),
    path(
        "personalization/users/<int:user_id>/deactivate/",
        apis.UserDeactivateApi.as_view(),
        name="user-deactivate",
    ),
]
