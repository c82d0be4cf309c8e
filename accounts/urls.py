from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("signup/", views.signup, name="signup"),
    path("password/", views.PasswordChangeView.as_view(), name="password-change"),
    path("members/", views.members, name="members"),
    path("members/create/", views.member_create, name="member-create"),
    path("members/invite/", views.member_invite, name="member-invite"),
    path("members/<int:pk>/role/", views.member_role, name="member-role"),
    path("members/<int:pk>/deactivate/", views.member_deactivate, name="member-deactivate"),
    path("members/<int:pk>/reactivate/", views.member_reactivate, name="member-reactivate"),
    path("members/<int:pk>/reinvite/", views.member_reinvite, name="member-reinvite"),
    path("invite/<str:token>/", views.invite_accept, name="invite-accept"),
]
