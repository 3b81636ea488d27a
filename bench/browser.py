"""Scenario 12: switching rooms in Chromium, to and from a room whose long history is loaded.

On a stack of its own, one user has a room of ``messages`` messages and two rooms of 30. The
browser the tests drive signs in, opens the long room and scrolls back through all of it (the
list keeps at most 300 nodes; the rest stay in memory), then clicks round the three rooms
``switches`` times: away from the long room, between the two small ones, and back. Each switch is
timed from the click to the next animation frame after the messages are drawn. The switches
between the two small rooms are the floor: what a switch costs without a long history, measured
in the same run beside the others.
"""

from __future__ import annotations

import asyncio

from playwright.sync_api import expect, sync_playwright

from bench.http import HttpClient
from bench.scenarios import Context
from bench.stack import PASSWORD, Stack
from bench.stats import percentiles
from tests.browser_helpers import CHROMIUM, CHROMIUM_ARGS, DESKTOP, SCROLL_TO, SWITCH_ROOM, Person, sign_in

LONG, SMALL_A, SMALL_B = "long history", "small a", "small b"
SMALL_SIZE = 30
POSTERS = 4
# One round of switches, starting and ending in the long room.
ROUND = (("away", SMALL_A), ("floor", SMALL_B), ("floor", SMALL_A), ("back", LONG))


async def scenario_12(ctx: Context) -> dict:
    """Fill the three rooms through the API, then time the switches in Chromium."""
    size = ctx.sizes["s12"]
    stack = Stack().start()
    try:
        [user] = await stack.sign_up(1, prefix="switcher")
        rooms = {title: await stack.create_room(title, [user]) for title in (LONG, SMALL_A, SMALL_B)}
        await _post(stack, user, rooms[LONG], size["messages"])
        for title in (SMALL_A, SMALL_B):
            await _post(stack, user, rooms[title], SMALL_SIZE)
        return await asyncio.to_thread(_switch, stack.url, user, size["messages"], size["switches"])
    finally:
        stack.stop()


async def _post(stack: Stack, user: str, room: str, count: int) -> None:
    """Store ``count`` messages in ``room``, ``POSTERS`` keep-alive connections at a time."""

    async def poster(first: int) -> None:
        client = HttpClient(stack.url, stack.cookies[user])
        try:
            for n in range(first, count + 1, POSTERS):
                message = {"text": f"history line {n}", "client_id": f"{room}-{n}"}
                await client.json("POST", f"/api/rooms/{room}/messages", message)
        finally:
            await client.close()

    await asyncio.gather(*(poster(first) for first in range(1, POSTERS + 1)))


def _switch(url: str, user: str, messages: int, switches: int) -> dict:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=DESKTOP)
            person = Person(context, context.new_page(), url, user)
            page = person.page
            page.goto(f"{url}/")
            sign_in(page, user, PASSWORD)
            for title in (SMALL_A, SMALL_B, LONG):  # each room's first page comes from the server
                person.open_room(title)
                expect(person.message_texts().last).to_be_visible()
            up = page.evaluate(SCROLL_TO, ["top", 1])
            down = page.evaluate(SCROLL_TO, ["bottom", messages])
            if up["edge"] != 1 or down["edge"] != messages:
                raise RuntimeError(f"scrolling did not reach both ends of the long room: {up}, {down}")
            timed = {"away": [], "floor": [], "back": []}
            nodes = set()
            for _ in range(switches):
                for kind, title in ROUND:
                    page.wait_for_timeout(100)  # a person's pace: what the click set going settles
                    switch = page.evaluate(SWITCH_ROOM, title)
                    timed[kind].append(round(switch["ms"] * 1e6))
                    if kind == "back":
                        nodes.add(switch["nodes"])
        finally:
            browser.close()
    away, floor, back = (percentiles(timed[kind]) for kind in ("away", "floor", "back"))
    return {
        "messages": messages,
        "switches": switches,
        "scroll_steps_up": up["steps"],
        "scroll_steps_down": down["steps"],
        "message_nodes_at_most": max(up["nodes"], down["nodes"], *nodes),
        "away": away,
        "back": back,
        "floor": floor,
        "back_to_floor_p50": round(back["p50_ms"] / floor["p50_ms"], 2) if floor["p50_ms"] else None,
    }
