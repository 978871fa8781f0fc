"""The demo city builder (``jinshequ demo``): a deterministic Benxi with regions, units, members, their
service and one account per role. An app of its own, above every domain app, so that ``core`` stays a
library; the builder's entry points are in ``jinshequ.demo.city``."""
