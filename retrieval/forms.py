"""Forms of the library admin pages (the API has its own serializers)."""

from __future__ import annotations

from typing import Any

from django import forms

from psbir_site.text import PrintableTextFormField


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; each is checked later by the photo validator."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(item, initial) for item in data]
        return [single(data, initial)]


class LibraryForm(forms.Form):
    name = PrintableTextFormField(max_length=120)
    description = PrintableTextFormField(
        required=False, max_length=2000, multiline=True, widget=forms.Textarea(attrs={"rows": 2})
    )


class PhotoUploadForm(forms.Form):
    files = MultipleFileField(label="Photos")
    category = PrintableTextFormField(required=False, max_length=120)
    subcategory = PrintableTextFormField(required=False, max_length=120)


class ZipUploadForm(forms.Form):
    archive = forms.FileField(
        label="Zip archive", widget=forms.ClearableFileInput(attrs={"accept": ".zip"})
    )
    labels = forms.FileField(
        label="Labels CSV",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )


class LabelsForm(forms.Form):
    labels = forms.FileField(
        label="Labels CSV", widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"})
    )


class ImageLabelForm(forms.Form):
    category = PrintableTextFormField(required=False, max_length=120)
    subcategory = PrintableTextFormField(required=False, max_length=120)
    caption = PrintableTextFormField(required=False, max_length=300)
