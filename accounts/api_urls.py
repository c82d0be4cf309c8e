from django.urls import path

from accounts import apis

app_name = "accounts-api"

urlpatterns = [
    path("auth/token/", apis.TokenObtainApi.as_view(), name="auth-token"),
    path("me/", apis.MeApi.as_view(), name="me"),
    path("members/", apis.MemberListApi.as_view(), name="member-list"),
    path("members/invite/", apis.MemberInviteApi.as_view(), name="member-invite"),
    path("members/<int:pk>/", apis.MemberDetailApi.as_view(), name="member-detail"),
]
