"""The offline narrator: a plain Vietnamese script from the chapter's metadata, when no API key is set.

It cannot see the pictures, so it does not pretend to: it introduces the chapter, walks
through the pages (one scene per page for tall strips, per two pages otherwise) and
closes. The script says narrator "offline", so nobody mistakes it for a retelling.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from manga2video.script.prepare import TALL_PAGE_RATIO

PAGES_PER_SCENE = 2

_MIDDLE_LINES = (
    "Câu chuyện tiếp tục ở {where}. Các bạn hãy cùng theo dõi từng khung tranh nhé.",
    "Đến {where}, diễn biến bắt đầu trở nên đáng chú ý hơn.",
    "Hãy chú ý đến các nhân vật và lời thoại ở {where}.",
    "Mạch truyện được đẩy lên ở {where}. Đừng bỏ lỡ chi tiết nào.",
)


def _page_groups(pages: list[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """Tall webtoon strips stand alone; ordinary pages go in pairs."""
    groups: list[list[Mapping[str, Any]]] = []
    for page in pages:
        tall = page["height"] > TALL_PAGE_RATIO * page["width"]
        last = groups[-1] if groups else None
        joinable = last is not None and len(last) < PAGES_PER_SCENE
        if tall or not joinable or last[-1]["height"] > TALL_PAGE_RATIO * last[-1]["width"]:
            groups.append([page])
        else:
            last.append(page)
    return groups


def _where(group: list[Mapping[str, Any]]) -> str:
    numbers = [int(page["index"]) for page in group]
    if len(numbers) == 1:
        tall = group[0]["height"] > TALL_PAGE_RATIO * group[0]["width"]
        return f"trang {numbers[0]}, một dải tranh dài" if tall else f"trang {numbers[0]}"
    return f"trang {numbers[0]} và {numbers[-1]}"


def offline_answer(index: Mapping[str, Any]) -> dict[str, Any]:
    """A script answer in the tool's shape, built from the script input's index."""
    comic = index.get("comic_title") or "Truyện tranh"
    chapter = index.get("chapter_title") or "chương mới"
    pages = sorted(index["pages"], key=lambda page: page["index"])
    groups = _page_groups(pages)
    previous = index.get("previous")

    narrations = []
    for number, group in enumerate(groups):
        where = _where(group)
        if number == 0:
            text = f"Chào mừng các bạn đến với {comic}, {chapter}. Chương này có {len(pages)} trang."
            if previous:
                text += f" Ở chương trước: {previous['summary']}"
            text += f" Chúng ta bắt đầu với {where}."
        elif number == len(groups) - 1:
            text = f"Và đây là {where}, cũng là phần cuối của {chapter}. Hẹn gặp lại các bạn ở chương tiếp theo."
        else:
            text = _MIDDLE_LINES[(number - 1) % len(_MIDDLE_LINES)].format(where=where)
        narrations.append(text)

    return {
        "title": f"{comic} - {chapter}",
        "description": (
            f"{comic}, {chapter}: {len(pages)} trang truyện kèm lời dẫn tự động. "
            "Lời dẫn được tạo khi không có mô hình AI, nên chỉ giới thiệu các trang mà không kể lại nội dung."
        ),
        "tags": [comic, chapter, "truyện tranh", "manga", "đọc truyện"],
        "scenes": [
            {"pages": [int(page["index"]) for page in group], "narration": narration}
            for group, narration in zip(groups, narrations, strict=True)
        ],
        "summary": f"{comic}, {chapter}, gồm {len(pages)} trang (lời dẫn tự động, chưa có tóm tắt nội dung).",
    }
