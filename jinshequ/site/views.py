from django.shortcuts import redirect, render

from jinshequ.accounts.models import Role
from jinshequ.stats.selectors import overview_for_user


def home(request):
    user = request.user
    if user.role == Role.MEMBER:
        return redirect("members:me")
    return render(request, "site/home.html", {"overview": overview_for_user(user)})
