from django.contrib.auth.backends import ModelBackend

from jinshequ.accounts.models import User
from jinshequ.core.idcard import PHONE_RE, normalize_phone
from jinshequ.members.models import phone_hash


def find_user(identifier: str) -> User | None:
    """A user by username, or by phone number (matched through the keyed hash)."""
    identifier = (identifier or "").strip()
    if not identifier:
        return None
    user = User.objects.filter(username=identifier).first()
    if user is None and PHONE_RE.match(normalize_phone(identifier)):
        user = User.objects.filter(phone_hash=phone_hash(normalize_phone(identifier))).first()
    return user


class UsernameOrPhoneBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        user = find_user(username)
        if user is None:
            User().set_password(password or "")  # same work as a real check: no timing oracle
            return None
        if user.check_password(password or "") and self.user_can_authenticate(user):
            return user
        return None

    def get_user(self, user_id):
        """The signed-in user with the anchor of their scope (region, work unit) in the same query: nearly
        every page reads one of them (scope rules, the menu's role label)."""
        try:
            user = User._default_manager.select_related("region", "work_unit").get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
