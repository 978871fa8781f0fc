from django.conf import settings


def site(request):
    from jinshequ.accounts.perms import Perm, user_has_perm

    user = getattr(request, "user", None)
    authed = user is not None and user.is_authenticated
    return {
        "site_name": settings.JINSHEQU_SITE_NAME,
        # each language named in itself (中文, English), never translated: get_available_languages would
        # translate the names into the page's language
        "languages": settings.LANGUAGES,
        "csp_nonce": getattr(request, "csp_nonce", ""),
        "current_role": user.get_role_display() if authed else None,
        "can": {p.name.lower(): user_has_perm(user, p) for p in Perm} if authed else {},
    }
