"""Page forms. They validate input and call services; they never save models themselves."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from accounts.authentication import LoginLockedOut, authenticate_throttled
from accounts.models import User


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's login form, counting failures per username + address (see accounts.throttling)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "locked_out": "Too many failed sign-in attempts.",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.locked_out = False

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            try:
                self.user_cache = authenticate_throttled(
                    self.request, username=username, password=password
                )
            except LoginLockedOut as exc:
                self.locked_out = True
                raise ValidationError(str(exc), code="locked_out") from exc
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class _PasswordPairMixin(forms.Form):
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password (again)",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_password2(self) -> str:
        p1, p2 = self.cleaned_data.get("password1"), self.cleaned_data.get("password2")
        if p1 and p2 and p1 != p2:
            raise ValidationError("The two passwords do not match.")
        return p2


class SignupForm(_PasswordPairMixin):
    organisation_name = forms.CharField(
        label="Organisation name", max_length=120, widget=forms.TextInput(attrs={"autofocus": True})
    )
    username = forms.CharField(
        max_length=150, help_text="You will sign in with this. Letters, digits and @/./+/-/_."
    )
    email = forms.EmailField(required=False)

    field_order = ["organisation_name", "username", "email", "password1", "password2"]


class MemberCreateForm(_PasswordPairMixin):
    username = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    role = forms.ChoiceField(choices=User.Role.choices, initial=User.Role.MEMBER)

    field_order = ["username", "email", "first_name", "last_name", "role", "password1", "password2"]


class MemberInviteForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="The invitee signs in with this.")
    email = forms.EmailField(required=False)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    role = forms.ChoiceField(choices=User.Role.choices, initial=User.Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=User.Role.choices)


class InviteAcceptForm(_PasswordPairMixin):
    pass


# Services name the password "password"; the forms ask for it twice as password1/password2.
_FIELD_ALIASES = {"password": "password1"}


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Attach a service's ValidationError to the form: field errors where the field exists."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            name = _FIELD_ALIASES.get(field, field)
            form.add_error(name if name in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)
