"""R20 storage of ID numbers and phones; R22 cipher agility and key rotation."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client, override_settings

from jinshequ.accounts.models import AuditEvent
from jinshequ.core import crypto
from jinshequ.members.models import ID_PURPOSE, PHONE_PURPOSE, Member, id_number_hash, phone_hash
from tests.factories import PASSWORD, build_world, make_member, new_id_number, new_phone
from tests.securitykit import canaries, canary_hits


def b64key(seed: str, size: int = 32) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(seed.encode()).digest()[:size]).decode().rstrip("=")


KEY_A, KEY_B, KEY_C = b64key("key-a"), b64key("key-b"), b64key("key-c")
HMAC_1, HMAC_2 = b64key("hmac-1"), b64key("hmac-2")


# --- R20: a dump of the database holds no plaintext canary ------------------------------------


def _dump_database() -> bytes:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        path = Path(settings["NAME"])
        return b"".join(
            p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
        )
    assert connection.vendor == "postgresql"
    env = dict(os.environ)
    if settings.get("PASSWORD"):
        env["PGPASSWORD"] = settings["PASSWORD"]
    command = [
        "pg_dump",
        "--format=plain",
        "--no-owner",
        "-h",
        settings.get("HOST") or "127.0.0.1",
        "-p",
        str(settings.get("PORT") or 5432),
        "-U",
        settings.get("USER") or "postgres",
        settings["NAME"],
    ]
    result = subprocess.run(command, capture_output=True, env=env, timeout=120, check=True)
    return result.stdout


def _exercise_pi_paths(world) -> None:
    """Requests that handle full values: log-in by phone (right and wrong), create, edit, reveal, search."""
    member = world.a.members[0]
    member.user.phone_hash = member.phone_hash
    member.user.save(update_fields=["phone_hash"])
    phone = member.reveal_phone()
    anon = Client()
    anon.post("/accounts/login/", {"username": phone, "password": "Wrong-Passw0rd!"})
    anon.post("/accounts/login/", {"username": new_phone(), "password": "Wrong-Passw0rd!"})
    assert anon.post("/accounts/login/", {"username": phone, "password": PASSWORD}).status_code == 302

    admin = Client()
    admin.force_login(world.a.users["community_admin"])
    response = admin.post(
        "/members/new/",
        {
            "name": "钱七",
            "id_number": new_id_number(),
            "phone": new_phone(),
            "work_unit": world.a.unit.pk,
            "community": world.a.community.pk,
            "party_status": "full",
        },
    )
    assert response.status_code == 302
    target = world.a.members[1]
    response = admin.post(
        f"/members/{target.pk}/edit/",
        {
            "name": target.name,
            "id_number": "",
            "phone": new_phone(),
            "work_unit": target.work_unit_id,
            "community": target.community_id,
            "party_status": "full",
        },
    )
    assert response.status_code == 302
    response = admin.post(
        f"/members/{target.pk}/reveal/", {"field": "id_number", "reason": f"核对 {target.reveal_id_number()}"}
    )
    assert response.status_code == 200
    # A duplicate ID number is refused; the refusal is audited without the number.
    admin.post(
        "/members/new/",
        {
            "name": "重复",
            "id_number": target.reveal_id_number(),
            "phone": new_phone(),
            "work_unit": world.a.unit.pk,
            "community": world.a.community.pk,
            "party_status": "full",
        },
    )


@pytest.mark.django_db(transaction=True)
def test_database_dump_contains_no_plaintext_canary():
    world = build_world()
    _exercise_pi_paths(world)
    assert Member.objects.count() == 7
    connection.close()  # let SQLite write its pages; PostgreSQL: nothing pending
    dump = _dump_database()
    assert len(dump) > 10_000
    assert b"members_member" in dump or connection.vendor == "sqlite"
    assert canary_hits(dump) == set()
    # The check itself works: a value that is in the database is found.
    assert "东风社区".encode() in dump


def test_hash_is_keyed_and_not_a_bare_sha256(world):
    for member in Member.objects.all():
        number, phone = member.reveal_id_number(), member.reveal_phone()
        for bare in (
            hashlib.sha256(number.encode()).hexdigest(),
            hashlib.sha256(f"{ID_PURPOSE}:{number}".encode()).hexdigest(),
        ):
            assert member.id_number_hash != bare
        assert member.phone_hash != hashlib.sha256(phone.encode()).hexdigest()
        assert member.id_number_hash == id_number_hash(number)


def test_changing_the_hmac_key_changes_every_hash(world):
    values = [(m.reveal_id_number(), m.reveal_phone()) for m in Member.objects.all()]
    with override_settings(JINSHEQU_HMAC_KEY=HMAC_1):
        first = [(id_number_hash(i), phone_hash(p)) for i, p in values]
    with override_settings(JINSHEQU_HMAC_KEY=HMAC_2):
        second = [(id_number_hash(i), phone_hash(p)) for i, p in values]
    assert all(a[0] != b[0] and a[1] != b[1] for a, b in zip(first, second, strict=True))
    assert len({h for pair in first for h in pair}) == 2 * len(values)


def test_ciphertext_carries_cipher_and_key_id_and_is_randomised():
    with override_settings(JINSHEQU_FIELD_KEYS=f"k1:{KEY_A}", JINSHEQU_HMAC_KEY=HMAC_1):
        one = crypto.encrypt("210502198001011234", purpose=ID_PURPOSE)
        two = crypto.encrypt("210502198001011234", purpose=ID_PURPOSE)
        assert one.startswith("a1:k1:") and two.startswith("a1:k1:") and one != two
        assert "210502198001011234" not in one
        assert crypto.decrypt(one, purpose=ID_PURPOSE) == "210502198001011234"


@pytest.mark.parametrize("mangle", ["wrong key", "unknown key id", "wrong purpose", "tampered", "garbage"])
def test_decrypting_with_the_wrong_key_or_data_raises(mangle):
    with override_settings(JINSHEQU_FIELD_KEYS=f"k1:{KEY_A}", JINSHEQU_HMAC_KEY=HMAC_1):
        token = crypto.encrypt("13812345678", purpose=PHONE_PURPOSE)
    keys, purpose = f"k1:{KEY_A}", PHONE_PURPOSE
    if mangle == "wrong key":
        keys = f"k1:{KEY_B}"
    elif mangle == "unknown key id":
        keys = f"k2:{KEY_A}"
    elif mangle == "wrong purpose":
        purpose = ID_PURPOSE
    elif mangle == "tampered":
        head, body = token.rsplit(":", 1)
        token = f"{head}:{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}"
    else:
        token = "a1:k1:not-base64-at-all!"
    with (
        override_settings(JINSHEQU_FIELD_KEYS=keys, JINSHEQU_HMAC_KEY=HMAC_1),
        pytest.raises(crypto.DecryptionError),
    ):
        crypto.decrypt(token, purpose=purpose)


def test_sm4_backend_round_trip_and_cross_cipher_decrypt():
    with override_settings(JINSHEQU_FIELD_KEYS=f"k1:{KEY_A}", JINSHEQU_HMAC_KEY=HMAC_1):
        aes = crypto.encrypt("hello", purpose="t")
    with override_settings(
        JINSHEQU_FIELD_KEYS=f"k1:{KEY_A}", JINSHEQU_HMAC_KEY=HMAC_1, JINSHEQU_FIELD_CIPHER="s1"
    ):
        sm4 = crypto.encrypt("hello", purpose="t")
        assert sm4.startswith("s1:k1:")
        assert crypto.decrypt(sm4, purpose="t") == "hello"
        assert crypto.decrypt(aes, purpose="t") == "hello"  # old AES rows still readable
    with (
        override_settings(JINSHEQU_FIELD_KEYS=f"k1:{KEY_B}", JINSHEQU_HMAC_KEY=HMAC_1),
        pytest.raises(crypto.DecryptionError),
    ):
        crypto.decrypt(sm4, purpose="t")


def test_sm3_blind_index_differs_from_sha256():
    with override_settings(JINSHEQU_HMAC_KEY=HMAC_1):
        sha = crypto.blind_index("x", purpose="p")
        with override_settings(JINSHEQU_BLIND_INDEX="hmac-sm3"):
            sm3 = crypto.blind_index("x", purpose="p")
    assert len(sha) == len(sm3) == 64 and sha != sm3


@pytest.mark.parametrize(
    "keys", ["k1", "k-1:" + KEY_A, f"k1:{KEY_A},k1:{KEY_B}", "k1:" + b64key("short", 16)]
)
def test_malformed_key_settings_are_refused(keys):
    from django.core.exceptions import ImproperlyConfigured

    with (
        override_settings(JINSHEQU_FIELD_KEYS=keys, JINSHEQU_HMAC_KEY=HMAC_1),
        pytest.raises(ImproperlyConfigured),
    ):
        crypto.keyring()


# --- R22: rotation ------------------------------------------------------------------------


def _dev_key() -> str:
    """The development key the world was built under (derived from SECRET_KEY)."""
    from django.conf import settings

    return base64.urlsafe_b64encode(crypto._derive("field", settings.SECRET_KEY)).decode().rstrip("=")


def _plaintexts():
    return {m.pk: (m.reveal_id_number(), m.reveal_phone()) for m in Member.objects.order_by("pk")}


def _kids():
    return {
        (crypto.key_id_of(m.id_number_enc), crypto.key_id_of(m.phone_enc) if m.phone_enc else None)
        for m in Member.objects.all()
    }


@pytest.mark.parametrize("cipher", ["a1", "s1"])
def test_rotate_field_keys_reencrypts_every_row(world, cipher):
    with override_settings(JINSHEQU_FIELD_KEYS=f"A:{KEY_A},dev:{_dev_key()}", JINSHEQU_HMAC_KEY=HMAC_1):
        make_member("无手机", world.a.unit, world.a.community, phone=False)
        # Re-encrypt the world under key A so the starting point is "everything under A".
        call_command("rotate_field_keys", stdout=StringIO())
        assert _kids() == {("A", "A"), ("A", None)}
        before = _plaintexts()
        old_hashes = dict(Member.objects.values_list("pk", "id_number_hash"))

    rotated = {
        "JINSHEQU_FIELD_KEYS": f"B:{KEY_B},A:{KEY_A}",
        "JINSHEQU_HMAC_KEY": HMAC_1,
        "JINSHEQU_FIELD_CIPHER": cipher,
    }
    with override_settings(**rotated):
        out = StringIO()
        call_command("rotate_field_keys", "--dry-run", stdout=out)
        assert "members.Member.id_number_enc: 7 rows to re-encrypt (A: 7)" in out.getvalue()
        call_command("rotate_field_keys", "--batch-size", "3", stdout=out)
        assert "members.Member.id_number_enc: 7 rows re-encrypted" in out.getvalue()
        assert "members.Member.phone_enc: 6 rows re-encrypted" in out.getvalue()
        assert all(m.id_number_enc.startswith(f"{cipher}:B:") for m in Member.objects.all())
        assert all(m.phone_enc.startswith(f"{cipher}:B:") for m in Member.objects.exclude(phone_enc=""))
        assert Member.objects.get(name="无手机").phone_enc == ""
        out = StringIO()
        call_command("rotate_field_keys", stdout=out)  # idempotent: nothing left to do
        assert "0 rows re-encrypted" in out.getvalue()

    # Key A removed: every row still decrypts to the same values; hashes did not move.
    with override_settings(JINSHEQU_FIELD_KEYS=f"B:{KEY_B}", JINSHEQU_HMAC_KEY=HMAC_1):
        assert _plaintexts() == before
        assert dict(Member.objects.values_list("pk", "id_number_hash")) == old_hashes
    # A wrong key under the same id refuses to decrypt.
    with (
        override_settings(JINSHEQU_FIELD_KEYS=f"B:{KEY_C}", JINSHEQU_HMAC_KEY=HMAC_1),
        pytest.raises(crypto.DecryptionError),
    ):
        Member.objects.first().reveal_id_number()
    row = AuditEvent.objects.filter(event="crypto.keys_rotated").order_by("-id").first()
    assert row.object_id == "B" and row.actor_name == "system:rotate_field_keys"


def test_rotation_stops_on_a_row_it_cannot_decrypt(world):
    with override_settings(JINSHEQU_FIELD_KEYS=f"A:{KEY_A},dev:{_dev_key()}", JINSHEQU_HMAC_KEY=HMAC_1):
        call_command("rotate_field_keys", stdout=StringIO())
    with (
        override_settings(JINSHEQU_FIELD_KEYS=f"B:{KEY_B}", JINSHEQU_HMAC_KEY=HMAC_1),
        pytest.raises(CommandError, match="cannot be decrypted"),
    ):
        call_command("rotate_field_keys", stdout=StringIO())
    with override_settings(JINSHEQU_FIELD_KEYS=f"A:{KEY_A}", JINSHEQU_HMAC_KEY=HMAC_1):
        assert _kids() == {("A", "A")}  # nothing half-done


def test_every_encrypted_column_is_registered_for_rotation():
    from django.apps import apps

    registered = {(label.lower(), field) for label, field, _ in crypto.ENCRYPTED_FIELDS}
    found = {
        (m._meta.label_lower, f.name)
        for m in apps.get_models()
        for f in m._meta.concrete_fields
        if f.name.endswith("_enc") and m._meta.app_config.name.startswith("jinshequ.")
    }
    assert found - registered == set(), "add these to jinshequ.core.crypto.ENCRYPTED_FIELDS"
    assert registered - found == set(), "ENCRYPTED_FIELDS names columns that do not exist"


def test_household_contact_rotates_too(world):
    from jinshequ.posts import services as posts

    admin = world.a.users["community_admin"]
    phone = new_phone()
    with override_settings(JINSHEQU_FIELD_KEYS=f"A:{KEY_A}", JINSHEQU_HMAC_KEY=HMAC_1):
        household = posts.household_create(
            community=world.a.community, head_name="困难户", address="幸福路 1 号", phone=phone, actor=admin
        )
    with override_settings(
        JINSHEQU_FIELD_KEYS=f"B:{KEY_B},A:{KEY_A},dev:{_dev_key()}", JINSHEQU_HMAC_KEY=HMAC_1
    ):
        call_command("rotate_field_keys", stdout=StringIO())
    with override_settings(JINSHEQU_FIELD_KEYS=f"B:{KEY_B}", JINSHEQU_HMAC_KEY=HMAC_1):
        household.refresh_from_db()
        assert household.phone_enc.startswith("a1:B:") and household.address_enc.startswith("a1:B:")
        assert posts.household_phone(household) == phone
        assert posts.household_address(household) == "幸福路 1 号"


def test_no_canary_in_ciphertexts(world):
    blobs = "".join(
        f"{m.id_number_enc}{m.phone_enc}{m.id_number_hash}{m.phone_hash}" for m in Member.objects.all()
    )
    assert canary_hits(blobs) == set()
    assert len(canaries()) >= 6


def test_file_content_round_trips_and_binds_its_purpose():
    data = os.urandom(3000) + "张三 110101199003077777".encode()
    blob = crypto.encrypt_bytes(data, purpose="import_upload")
    assert blob.startswith(crypto.current_prefix().encode()) and data not in blob
    assert crypto.encrypt_bytes(data, purpose="import_upload") != blob  # a fresh nonce each time
    assert crypto.decrypt_bytes(blob, purpose="import_upload") == data
    for bad in (blob[:-1] + bytes([blob[-1] ^ 1]), blob.replace(b":", b";", 1), b"", b"a1:nokey:xxxx"):
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt_bytes(bad, purpose="import_upload")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_bytes(blob, purpose="something_else")
