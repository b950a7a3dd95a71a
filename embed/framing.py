"""Who may frame an embed page: the brand's allowed sites, in the response's Content-Security-Policy.

Every other route keeps ``frame-ancestors 'none'`` (liveshop.csp) and ``X-Frame-Options: DENY``
(Django's middleware). An embed page replaces the one directive with the brand's sites and drops
X-Frame-Options, which cannot name a site and would refuse them all; a brand that allows no site
keeps both refusals."""

from __future__ import annotations

from django.conf import settings

from embed.selectors import get_embed_settings


def allow_framing(response, origins: list[str]):
    """Let exactly ``origins`` frame ``response`` (none: keep DENY and 'none')."""
    if not origins:
        return response
    # The policy liveshop.csp sends: enforced, or only reported when LIVESHOP_CSP_REPORT_ONLY is on.
    mode = "_csp_replace_ro" if settings.LIVESHOP_CSP_REPORT_ONLY else "_csp_replace"
    setattr(response, mode, {"frame-ancestors": list(origins)})
    response.xframe_options_exempt = True
    return response


def allow_brand_framing(response, organization_id: int):
    """``allow_framing`` with the brand's allow-list (embed.models.EmbedSettings)."""
    return allow_framing(response, get_embed_settings(organization_id).origins)
