"""``core.prepared.PreparedValues``: a query compiled once gives, for any value, exactly the rows the ORM
gives — dates, aware datetimes, decimals, NULLs from outer joins, grouped sums, reordered annotations — on
SQLite and PostgreSQL; a query it cannot prepare runs through the ORM."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils import timezone

from jinshequ.activities.models import Activity, Attendance, ServiceRecord, Signup, SignupStatus
from jinshequ.core.prepared import PreparedValues
from jinshequ.posts.models import PostCategory


def _data(world):
    """Two members with records over two months and sign-ups, one attended (one outer-join NULL)."""
    category, _ = PostCategory.objects.get_or_create(name="助老助残")
    today = timezone.localdate()
    for m, n in ((world.a.members[0], 7), (world.a.members[1], 3)):
        ServiceRecord.objects.bulk_create(
            ServiceRecord(member=m, community=world.a.community, category=category,
                          served_on=today - dt.timedelta(days=20 * i), month=0, hours=Decimal("1.5") + i,
                          description=f"第{i}次", status=("verified", "pending")[i % 2], evidence=1 + i % 3,
                          created_at=timezone.now())
            for i in range(n))
    for r in ServiceRecord.objects.all():
        ServiceRecord.objects.filter(pk=r.pk).update(month=r.served_on.year * 100 + r.served_on.month)
    start = timezone.now() - dt.timedelta(days=3, minutes=17, microseconds=123456)
    for i, m in enumerate(world.a.members[:2]):
        a = Activity.objects.create(community=world.a.community, title=f"活动{i}", category=category, place="广场",
                                    starts_at=start + dt.timedelta(hours=i), ends_at=start + dt.timedelta(hours=i + 2),
                                    capacity=5, checkin_secret="x" * 32)
        s = Signup.objects.create(activity=a, member=m, status=SignupStatus.ATTENDED, created_at=start)
        if i == 0:
            Attendance.objects.create(signup=s, checked_in_at=start, method="qr")


def test_prepared_rows_equal_the_orms(world):
    _data(world)
    builds = {
        "records": lambda mid: (ServiceRecord.objects.filter(member_id=mid).order_by("-served_on", "-pk")
                                .values_list("pk", "served_on", "hours", "status", "category__name")[:5]),
        "groups": lambda mid: (ServiceRecord.objects.filter(member_id=mid).order_by().values("month", "status")
                               .annotate(h=Sum("hours"), n=Count("pk")).values_list("month", "status", "h", "n")),
        "reordered": lambda mid: (ServiceRecord.objects.filter(member_id=mid).order_by().values("status")
                                  .annotate(n=Count("pk")).values_list("n", "status")),
        "signups": lambda mid: (Signup.objects.filter(member_id=mid).order_by("-activity__starts_at", "-pk")
                                .values_list("pk", "activity__starts_at", "attendance__checked_in_at",
                                             "attendance__checked_out_at", "activity__community__name")),
        "one column": lambda mid: ServiceRecord.objects.filter(member_id=mid).order_by("pk").values_list("hours"),
    }
    ids = [m.pk for m in world.a.members[:3]] + [999_999]
    for name, build in builds.items():
        prepared = PreparedValues(build)
        for mid in ids:
            expected = [tuple(row) for row in build(mid)]
            assert prepared(mid) == expected, (name, mid)
        assert prepared._compiled["default"] is not None, name  # it was prepared, not run through the ORM
    signups = PreparedValues(builds["signups"])(world.a.members[0].pk)
    assert signups[0][1].tzinfo is not None and signups[0][1].microsecond == Signup.objects.get(
        member=world.a.members[0]).activity.starts_at.microsecond
    assert PreparedValues(builds["signups"])(world.a.members[1].pk)[0][2] is None  # the outer join's NULL
    groups = PreparedValues(builds["groups"])(world.a.members[0].pk)
    assert all(isinstance(h, Decimal) for _, _, h, _ in groups) and sum(n for *_, n in groups) == 7


def test_queries_it_cannot_prepare_run_through_the_orm(world):
    _data(world)
    m = world.a.members[0]
    twice = PreparedValues(lambda mid: ServiceRecord.objects.filter(Q(member_id=mid) | Q(pk=mid))
                           .order_by("pk").values_list("pk", flat=False))
    assert twice(m.pk) == list(ServiceRecord.objects.filter(Q(member_id=m.pk) | Q(pk=m.pk)).order_by("pk")
                               .values_list("pk"))
    assert twice._compiled["default"] is None
    models = PreparedValues(lambda mid: ServiceRecord.objects.filter(member_id=mid).order_by("pk"))
    assert models(m.pk) == list(ServiceRecord.objects.filter(member_id=m.pk).order_by("pk"))
    assert models._compiled["default"] is None
