"""Emergency words in English and Chinese: the bot steps aside and a person is connected at once.

Phrase lists, not a model: the check must be instant, explainable and never miss a listed phrase.
Product phrases that contain an emergency word ("fire alarm", "灭火器") are removed first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EN_PHRASES = (
    "chest pain", "chest hurts", "heart attack", "can't breathe", "cannot breathe", "can not breathe",
    "cant breathe", "not breathing", "stopped breathing", "trouble breathing", "choking", "stroke",
    "unconscious", "passed out", "seizure", "bleeding badly", "bleeding heavily", "overdose",
    "suicide", "kill myself", "end my life", "want to die", "hurt myself", "fire", "on fire",
    "smoke everywhere", "gas leak", "explosion", "electric shock", "electrocuted", "being attacked",
    "someone broke in", "call an ambulance", "ambulance", "emergency", "help me please i'm hurt",
)
ZH_PHRASES = (
    "胸痛", "胸口痛", "胸口疼", "胸闷", "心脏病", "喘不过气", "呼吸困难", "不能呼吸", "无法呼吸", "窒息",
    "中风", "昏迷", "晕倒", "抽搐", "大出血", "流血不止", "吃药过量", "自杀", "不想活", "轻生", "想死",
    "伤害自己", "着火", "失火", "火灾", "起火", "冒烟", "煤气泄漏", "燃气泄漏", "爆炸", "触电", "被打",
    "抢劫", "救命", "急救", "救护车", "紧急情况",
)
# Product names and everyday phrases that contain an emergency word but are not emergencies.
EXCLUSIONS = (
    "fire alarm", "fire extinguisher", "fire blanket", "fire pit", "fire-resistant", "fire resistant",
    "fire retardant", "fire safe", "smoke alarm", "smoke detector", "emergency light", "emergency kit",
    "stroke of luck", "brush stroke", "灭火器", "烟雾报警器", "烟感", "防火", "应急灯", "急救包",
)

_EN = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in EN_PHRASES) + r")\b")
_EXCLUDE = re.compile("|".join(re.escape(p) for p in EXCLUSIONS))
# Praise slang ("your prices are fire", "this deal is straight fire"): a thing, a linking verb and
# "fire" with nothing after it that places a fire ("... is fire in the kitchen" still counts).
_SLANG_FIRE = re.compile(
    r"\b(?:price|prices|deal|deals|sale|sales|offer|offers|discount|discounts|collection|stuff|product|"
    r"products|design|designs|song|look|outfit|service|this|that|these|those)\s+(?:is|are|was|were|looks?|"
    r"sounds?)\s+(?:so\s+|straight\s+|pure\s+|absolute\s+|lowkey\s+|kinda\s+)?fire\b"
    r"(?!\s*(?:in|on|at|near|everywhere|coming|spreading|and smoke))")


@dataclass(frozen=True)
class EmergencyMatch:
    phrase: str


def detect_emergency(text: str) -> EmergencyMatch | None:
    lowered = re.sub(r"[’`]", "'", text.lower())
    lowered = _SLANG_FIRE.sub(" ", _EXCLUDE.sub(" ", lowered))
    m = _EN.search(lowered)
    if m:
        return EmergencyMatch(m.group())
    for phrase in ZH_PHRASES:
        if phrase in lowered:
            return EmergencyMatch(phrase)
    return None
