from django.urls import path

from retrieval import media_views, views

app_name = "retrieval"

urlpatterns = [
    path("search/", views.search, name="search"),
    path("sessions/", views.sessions, name="sessions"),
    path("sessions/<int:pk>/", views.session_detail, name="session-detail"),
    path("sessions/<int:pk>/rename/", views.session_rename, name="session-rename"),
    path("browse/", views.browse, name="browse"),
    path("browse/<int:pk>/", views.library_browse, name="library-browse"),
    path("libraries/", views.libraries, name="libraries"),
    path("libraries/<int:pk>/", views.library_detail, name="library-detail"),
    path("libraries/<int:pk>/edit/", views.library_edit, name="library-edit"),
    path("libraries/<int:pk>/delete/", views.library_delete, name="library-delete"),
    path("libraries/<int:pk>/upload/", views.library_upload, name="library-upload"),
    path("libraries/<int:pk>/upload-zip/", views.library_upload_zip, name="library-upload-zip"),
    path("libraries/<int:pk>/labels/", views.library_labels, name="library-labels"),
    path("libraries/<int:pk>/reindex/", views.library_reindex, name="library-reindex"),
    path("images/<int:pk>/", views.image_detail, name="image-detail"),
    path("images/<int:pk>/label/", views.image_label, name="image-label"),
    path("images/<int:pk>/delete/", views.image_delete, name="image-delete"),
    # Tenant data is only served through these views (MEDIA_URL is not routed).
    path("media/images/<int:pk>/photo", media_views.ImagePhotoView.as_view(), name="image-photo"),
    path("media/images/<int:pk>/thumb", media_views.ImageThumbView.as_view(), name="image-thumb"),
    path("media/images/<int:pk>/edges", media_views.ImageEdgesView.as_view(), name="image-edges"),
    path(
        "media/queries/<int:pk>/sketch", media_views.QuerySketchView.as_view(), name="query-sketch"
    ),
]
