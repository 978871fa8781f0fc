"""The project shell: what ties the domain apps into one site. The home page, the context every page
shows (site name, the user's permissions), the deploy checks and integrity checks that span apps, and
the project-wide commands (``nightly``, ``integrity_check``, ``rotate_field_keys``).

It sits above every domain app (it may import any of them; none imports it), so that ``core`` stays
a library that imports no domain app."""
