from django.urls import path

from retrieval import apis, insight_apis

app_name = "retrieval-api"

urlpatterns = [
    path("libraries/", apis.LibraryListApi.as_view(), name="library-list"),
    path("libraries/<int:pk>/", apis.LibraryDetailApi.as_view(), name="library-detail"),
    path("libraries/<int:pk>/images/", apis.LibraryImageListApi.as_view(), name="library-images"),
    path("libraries/<int:pk>/images/zip/", apis.LibraryZipUploadApi.as_view(), name="library-zip"),
    path("libraries/<int:pk>/labels/", apis.LibraryLabelsApi.as_view(), name="library-labels"),
    path("libraries/<int:pk>/reindex/", apis.LibraryReindexApi.as_view(), name="library-reindex"),
    path("libraries/<int:pk>/jobs/", apis.LibraryJobListApi.as_view(), name="library-jobs"),
    path("jobs/<int:pk>/", apis.JobDetailApi.as_view(), name="job-detail"),
    path("images/<int:pk>/", apis.ImageDetailApi.as_view(), name="image-detail"),
    path("sessions/", apis.SessionListApi.as_view(), name="session-list"),
    path("sessions/<int:pk>/", apis.SessionDetailApi.as_view(), name="session-detail"),
    path("queries/<int:pk>/", apis.QueryDetailApi.as_view(), name="query-detail"),
    path("results/<int:pk>/why/", insight_apis.ResultWhyApi.as_view(), name="result-why"),
    path(
        "images/<int:pk>/index-entry/",
        insight_apis.ImageIndexEntryApi.as_view(),
        name="image-index-entry",
    ),
]
