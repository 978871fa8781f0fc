from django.shortcuts import redirect, render

from jinshequ.stats.selectors import overview_for_user


def home(request):
    user = request.user
    if not user.is_staff_role:  # members have their own home page
        return redirect("members:me")
    return render(request, "site/home.html", {"overview": overview_for_user(user)})
