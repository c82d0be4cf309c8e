"""API shapes for accounts. Names are unique project-wide: they become OpenAPI component names."""

from __future__ import annotations

from rest_framework import serializers

from accounts import selectors
from accounts.models import Tenant, User


class TenantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tenant
        fields = ["id", "name", "slug"]
        read_only_fields = fields


class MeSerializer(serializers.ModelSerializer):
    tenant = TenantSerializer(read_only=True, allow_null=True)
    # Not ``format: email``: a user without an address has "" (the model's blank), which
    # would break that format in every response.
    email = serializers.CharField(read_only=True, help_text='An email address, or "" if none.')
    is_tenant_admin = serializers.BooleanField(read_only=True)

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "role",
            "is_tenant_admin",
            "tenant",
        ]
        read_only_fields = fields


class MemberSerializer(serializers.ModelSerializer):
    # Not ``format: email``: a user without an address has "" (the model's blank), which
    # would break that format in every response.
    email = serializers.CharField(read_only=True, help_text='An email address, or "" if none.')
    status = serializers.SerializerMethodField(
        help_text="active, invited (has not set a password yet) or deactivated"
    )

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "role",
            "is_active",
            "status",
            "last_login",
            "date_joined",
        ]
        read_only_fields = fields

    def get_status(self, obj: User) -> str:
        return selectors.member_status(obj)


class TokenObtainSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")
    user = MeSerializer()


class MemberCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, style={"input_type": "password"})
    role = serializers.ChoiceField(choices=User.Role.choices, default=User.Role.MEMBER)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")


class MemberInviteCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=User.Role.choices, default=User.Role.MEMBER)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")


class MemberInviteSerializer(serializers.Serializer):
    member = MemberSerializer()
    invite_url = serializers.URLField(help_text="Single-use; shown only in this response.")
    expires_at = serializers.DateTimeField()


class MemberUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=User.Role.choices, required=False)
    email = serializers.EmailField(required=False, allow_blank=True)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
