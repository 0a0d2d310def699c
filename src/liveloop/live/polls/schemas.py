"""API shapes of polls, questions and quizzes."""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from liveloop.core.schemas import StrictModel

MAX_POLL_SECONDS = 3 * 3600


def _clean_options(options: list[str]) -> list[str]:
    cleaned = [o.strip() for o in options]
    if any(not o for o in cleaned):
        raise ValueError("every option needs some text")
    if len({o.casefold() for o in cleaned}) != len(cleaned):
        raise ValueError("two options have the same text")
    return cleaned


class PollIn(StrictModel):
    question: str = Field(min_length=1, max_length=200)
    options: list[str] = Field(min_length=2, max_length=10)
    multiple: bool = False
    max_choices: int = Field(1, ge=1, le=10, description="multiple choice: how many at most")
    duration_seconds: int | None = Field(
        None, ge=10, le=MAX_POLL_SECONDS, description="closes by itself after this; none: by hand"
    )

    @field_validator("options")
    @classmethod
    def _options(cls, options: list[str]) -> list[str]:
        for option in options:
            if len(option.strip()) > 40:
                raise ValueError("an option may have 40 characters at most")
        return _clean_options(options)

    @field_validator("max_choices")
    @classmethod
    def _choices(cls, max_choices: int, info: ValidationInfo) -> int:
        if not info.data.get("multiple"):
            return 1
        if max_choices > len(info.data.get("options") or []):
            raise ValueError("max_choices cannot exceed the number of options")
        return max_choices


class VoteIn(StrictModel):
    options: list[int] = Field(min_length=1, max_length=10, description="option indexes, from 0")


class QuestionIn(StrictModel):
    text: str = Field(min_length=2, max_length=200)


class AnswerIn(StrictModel):
    answer: str = Field("", max_length=500)
    on_screen: bool = Field(True, description="show the question and answer to every viewer")


class QuizIn(StrictModel):
    question: str = Field(min_length=1, max_length=200)
    options: list[str] = Field(min_length=2, max_length=6)
    correct_index: int = Field(ge=0, le=5)
    duration_seconds: int = Field(30, ge=10, le=120)
    reward_kind: str = Field("none", pattern="^(none|points|coupon)$")
    winner_count: int = Field(0, ge=0, le=1000, description="the correct and fastest N")
    reward_points: int = Field(0, ge=0, le=1_000_000)
    reward_coupon_id: int | None = Field(None, validate_default=True)

    @field_validator("options")
    @classmethod
    def _options(cls, options: list[str]) -> list[str]:
        for option in options:
            if len(option.strip()) > 40:
                raise ValueError("an option may have 40 characters at most")
        return _clean_options(options)

    @field_validator("correct_index")
    @classmethod
    def _correct(cls, correct_index: int, info: ValidationInfo) -> int:
        if correct_index >= len(info.data.get("options") or [99] * 6):
            raise ValueError("correct_index must point at one of the options (from 0)")
        return correct_index

    @field_validator("winner_count")
    @classmethod
    def _winners(cls, winner_count: int, info: ValidationInfo) -> int:
        if info.data.get("reward_kind", "none") != "none" and winner_count < 1:
            raise ValueError("a reward needs winner_count of 1 or more")
        return winner_count

    @field_validator("reward_points")
    @classmethod
    def _points(cls, reward_points: int, info: ValidationInfo) -> int:
        if info.data.get("reward_kind") == "points" and reward_points < 1:
            raise ValueError("a points reward needs reward_points of 1 or more")
        return reward_points

    @field_validator("reward_coupon_id")
    @classmethod
    def _coupon(cls, coupon_id: int | None, info: ValidationInfo) -> int | None:
        if info.data.get("reward_kind") == "coupon" and coupon_id is None:
            raise ValueError("a coupon reward needs reward_coupon_id")
        return coupon_id


class QuizAnswerIn(StrictModel):
    option: int = Field(ge=0, le=5)
