"""A coordinator in a real browser: logs in through the form, reads the 2021 funnel off the page, switches
to English, logs out. Each page is saved as a screenshot (Chinese must render: fonts-noto-cjk)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser_support import funnel_counts_on, log_in, screenshot
from tests.dashboard_support import PASSWORD, SMALL_2021


def test_log_in_read_the_funnel_switch_to_english_and_log_out(page: Page, dashboard_url: str) -> None:
    page.goto(f"{dashboard_url}/?from=2021-01-01&to=2021-12-31")
    expect(page).to_have_url(f"{dashboard_url}/login?next=%2F%3Ffrom%3D2021-01-01%26to%3D2021-12-31")
    expect(page.locator("h1")).to_have_text("登录")
    screenshot(page, "01-login-zh-CN")

    log_in(page, "李老师", PASSWORD)
    expect(page.locator("h1")).to_have_text("招募与捐献漏斗")
    expect(page.locator("table#funnel caption")).to_contain_text("2021-01-01 至 2021-12-31")
    assert funnel_counts_on(page) == SMALL_2021
    expect(page.locator("header .who")).to_have_text("李老师（协调员）")
    screenshot(page, "02-funnel-2021-zh-CN")

    page.get_by_role("link", name="English").click()
    expect(page.locator("h1")).to_have_text("Recruitment and donation funnel")
    expect(page.locator("tr[data-stage='donations'] th")).to_have_text("Donations")
    assert funnel_counts_on(page) == SMALL_2021  # the period survived the switch
    screenshot(page, "03-funnel-2021-en")

    page.get_by_label("From").fill("2022-01-01")
    page.get_by_label("To").fill("2022-12-31")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("tr[data-stage='recruitment_events'] td.count")).to_have_text("1")

    page.get_by_role("button", name="Log out").click()
    expect(page.locator("h1")).to_have_text("Log in")
    expect(page.locator(".notice")).to_have_text("You are logged out.")
    screenshot(page, "04-logged-out-en")
    page.goto(f"{dashboard_url}/")
    expect(page.locator("h1")).to_have_text("Log in")  # the session is gone


def test_a_wrong_password_is_told_on_the_page_in_chinese(page: Page, dashboard_url: str) -> None:
    page.goto(f"{dashboard_url}/login")
    page.get_by_label("用户名").fill("李老师")
    page.get_by_label("密码").fill("wrong password")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_have_text("用户名或密码错误。")
    expect(page.get_by_label("用户名")).to_have_value("李老师")
    screenshot(page, "05-login-failed-zh-CN")
