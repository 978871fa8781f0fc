"""The browser harness itself: the CSP watcher must see a violation when there is one, so that
"no violations" in the other tests means something."""

import pytest

from tests.browser.conftest import DESKTOP, PageWatch

pytestmark = pytest.mark.browser


def test_watch_reports_inline_script_and_style_blocked_by_our_csp(browser, live_server):
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    try:
        page = context.new_page()
        watch = PageWatch()
        watch.attach(page)
        page.goto(f"{live_server.url}/accounts/login/")
        assert page.evaluate("typeof bootstrap") == "object"  # nonced scripts run
        assert watch.problems() == []
        page.evaluate("""() => {
            document.body.insertAdjacentHTML('beforeend', '<div style="color: red">x</div>');
            const s = document.createElement('script');
            s.textContent = 'window.__inline_ran = true';
            document.body.appendChild(s);
        }""")
        page.wait_for_timeout(300)
        assert page.evaluate("window.__inline_ran === true") is False
        assert len(watch.csp_violations) >= 2, watch.console_errors
        assert any("style" in m for m in watch.csp_violations)
        assert any("script" in m for m in watch.csp_violations)
    finally:
        context.close()
