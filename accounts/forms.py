from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class CandidateImportForm(forms.Form):
    file = forms.FileField(label=_("文件 (.csv / .xlsx)"))
    dry_run = forms.BooleanField(label=_("仅检查，不写入 (dry run)"), required=False, initial=True)


class UnbindForm(forms.Form):
    reason = forms.CharField(label=_("原因"), max_length=200)
