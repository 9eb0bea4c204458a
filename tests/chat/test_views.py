"""The stateless buttons: everything they need fits in a custom id. Pressing them is tested
end to end in tests/chat/exts/."""

from __future__ import annotations

from bot.chat import render


def test_button_custom_ids_fit_discords_limit():
    from bot.chat import views

    longest_id = "a" * 64  # the longest slug a document id may be
    big = 2**64
    buttons = [
        views.ContextButton(longest_id, 999_999_999, 999_999_999, 25),
        views.CiteButton(longest_id, 999_999_999, 999_999_999, 25),
        views.ReplyButton(big),
        views.DeleteButton(big),
        views.PageButton(999, big, "n"),
    ]
    for button in buttons:
        assert len(button.item.custom_id or "") <= render.CUSTOM_ID_LIMIT
