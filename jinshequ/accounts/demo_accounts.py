DEMO_PASSWORD = "jinshequ-demo"
DEMO_USERNAMES = (
    "city_admin",
    "district_admin",
    "street_admin",
    "community_admin",
    "community_admin_2",
    "unit_admin",
    "unit_admin_2",
    "inspector",
    "member",
    "member_2",
)
