"""Red flags: symptoms in a patient's message that mean "go to the emergency department now".

The patient service runs this before anything else answers: when a message describes a possible
emergency, the patient must be told to call 120 at once, whatever the rest of the pipeline says.
The rules are keyword patterns rather than a model so that clinicians can audit them, they behave
the same every time, and they never wait on a network call.

How a message is matched:

* It is NFKC-normalised (full-width letters, digits and punctuation become ASCII, "℃" becomes
  "°C"), curly apostrophes become straight ones, runs of spaces and tabs become one space, and
  the whole text is casefolded.
* It is split into clauses at ，。,.;；!?！？ and line breaks (a "." between digits, as in 38.5,
  does not split).
* Chinese terms are regular expressions matched anywhere; English terms are regular expressions
  matched as whole words.
* A hit is ignored when a negation cue ("没有", "无", "不", "未", "否认", "no", "not", "without",
  "denies", "don't" ...) stands right before it in the same clause, with at most three filler
  words in between ("有", "任何", "感到", "any", "have", "feel" ...). Any other word in between
  cancels the negation, so "受不了的胸痛" and "I'm not sure if this is chest pain" still trigger.
  Only the text before a hit is checked, so terms that carry their own negation ("没呼吸了",
  "not breathing", "叫不醒") work as symptoms.
* A rule fires on any hit of its `alone` terms, or when every concept in `together` has a hit
  somewhere in the message (an infant word and a fever word may sit in different clauses).

Safety comes before precision, so when unsure a rule triggers. Accepted on purpose:

* a negation does not reach across "or", "and" or "、": in "no chest pain or difficulty breathing"
  only the chest pain is denied;
* a denial placed after the term ("胸痛没有了") is not recognised;
* "never" and "从没" are not cues, because "I've never had chest pain like this" describes pain
  happening now;
* hyperbole ("热得想死") and questions ("医生问我有没有胸痛") trigger.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

Language = Literal["zh", "en"]

# "Under three months" is when guidelines send any fever straight to emergency care.
INFANT_AGE_YEARS: Final = 0.25


@dataclass(frozen=True, slots=True)
class RedFlag:
    code: str
    name: str
    name_en: str
    advice: str
    advice_en: str


@dataclass(frozen=True, slots=True)
class Terms:
    """One symptom concept in both languages; every entry is a regular expression."""

    zh: tuple[str, ...]
    en: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        compiled = [re.compile(f"(?:{term})") for term in self.zh]
        # Boundaries are ASCII-only: `\b` would treat Chinese characters as word characters and
        # miss English typed straight after Chinese ("我chest pain").
        compiled += [re.compile(f"(?<![a-z0-9'])(?:{term})(?![a-z0-9])") for term in self.en]
        # Compiled once per rule at import; the dataclass is frozen, hence object.__setattr__.
        object.__setattr__(self, "patterns", tuple(compiled))

    def __add__(self, other: Terms) -> Terms:
        return Terms(zh=self.zh + other.zh, en=self.en + other.en)

    def found_in(self, clauses: Sequence[str]) -> bool:
        """Whether any clause holds a hit that is not negated."""
        for clause in clauses:
            for pattern in self.patterns:
                for match in pattern.finditer(clause):
                    if not _negated(clause[: match.start()]):
                        return True
        return False


@dataclass(frozen=True, slots=True)
class RedFlagRule:
    flag: RedFlag
    alone: Terms | None = None
    together: tuple[Terms, ...] = ()
    # Terms that fire the rule on their own when the caller knows the patient is an infant.
    for_infants: Terms | None = None

    def matches(self, clauses: Sequence[str], *, infant: bool) -> bool:
        if self.alone is not None and self.alone.found_in(clauses):
            return True
        if self.together and all(terms.found_in(clauses) for terms in self.together):
            return True
        return infant and self.for_infants is not None and self.for_infants.found_in(clauses)


_APOSTROPHES: Final = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
# Line breaks survive: they end clauses.
_WHITESPACE: Final = re.compile(r"[^\S\n]+")
# A "." between digits is a decimal point (发烧38.5度), not the end of a clause.
_CLAUSE_BREAK: Final = re.compile(r"[,，。;；!?！？\n]|(?<!\d)\.|\.(?!\d)")

# Lookbehinds keep questions ("有没有胸痛", "是不是胸痛") from reading as denials.
_ZH_CUE: Final = r"(?:(?<!有)没有?|(?<!是)不是?|无|未见?|否认|并无)"
_ZH_FILLER: Final = r"(?:有|任何|什么|感到|感觉|觉得|出现|发生|明显的?|过|再|发现|伴有?|怎么|其他)"
_ZH_NEGATION: Final = re.compile(rf"{_ZH_CUE}(?:\s*{_ZH_FILLER}){{0,3}}\s*\Z")

# "can't", "won't" and "never" are left out: they mostly belong to symptoms ("can't breathe",
# "won't stop bleeding", "never had pain like this").
_EN_CUE: Final = (
    r"(?<![a-z0-9'])(?:no|not|without|none|deny|denies|denied|denying"
    r"|(?:do|does|did|have|has|had|is|are|was|were)n'?t)"
)
_EN_FILLER: Final = (
    r"(?:any|a|an|the|have|has|had|having|got|get|getting|been|feel|feels|feeling|felt"
    r"|experience|experienced|experiencing|notice|noticed|report|reported|reporting"
    r"|complain|complained|complaining|of|signs?|symptoms?|history|real|really|actually"
    r"|obvious|significant|more|further|other|longer|new|current|currently|such)"
)
_EN_NEGATION: Final = re.compile(rf"{_EN_CUE}(?:\s+{_EN_FILLER}){{0,3}}\s*\Z")


def _negated(before: str) -> bool:
    """Whether the text before a hit, within its clause, ends in a negation cue plus fillers."""
    # Both languages are checked: patients mix them ("没有 chest pain").
    return bool(_ZH_NEGATION.search(before) or _EN_NEGATION.search(before))


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)
    return _WHITESPACE.sub(" ", text).casefold()


def _clauses(text: str) -> list[str]:
    return [clause.strip() for clause in _CLAUSE_BREAK.split(_normalise(text)) if clause.strip()]


def _not_after(*words: str, gap: int) -> str:
    """Lookbehinds rejecting a hit when one of `words` ends at most `gap` characters before it.

    Python's `re` only allows fixed-width lookbehinds, so each width gets its own.
    """
    return "".join(f"(?<!{word}{'.' * width})" for word in words for width in range(gap + 1))


# Shared by several English rules so that their spelling variants stay in step.
_CANT: Final = r"(?:can'?t|cannot|can not|couldn'?t|could not|unable to)"
_WONT: Final = r"(?:won'?t|will not|doesn'?t|does not|isn'?t|is not|hasn'?t|has not)"
_WHOSE: Final = r"(?:my|his|her|their|the|our|your)"

_CHEST_PAIN: Final = RedFlagRule(
    flag=RedFlag(
        code="chest_pain",
        name="胸痛",
        name_en="Chest pain",
        advice="立即停止一切活动，坐下或半躺休息，松开紧身衣物；不要自己开车去医院。"
        "如果医生以前为这种情况给您开过急救药，请按医嘱使用。",
        advice_en="Stop all activity, sit or half-lie down and loosen tight clothing; do not drive "
        "yourself to hospital. If a doctor has prescribed emergency medicine for this, use it as "
        "you were instructed.",
    ),
    # Hospital policy: any chest pain gets emergency advice, with or without other symptoms.
    alone=Terms(
        zh=(
            r"胸(?:口|部|前区?|骨后|膛)?(?:很|非常|特别|好|有点|有些|一阵阵|阵阵|一直|突然|剧烈|持续){0,2}"
            r"(?:剧|绞|刺|撕裂样?|压榨样?|闷)?(?:疼|痛|闷|憋|发紧|发闷|压迫|紧缩)",
            r"胸口?(?:像|好像|跟)[^,]{0,8}?(?:压|堵|勒|捏|揪)",
            r"心口(?:很|好|有点|突然)?(?:疼|痛)",
            r"心(?:脏|前区)(?:很|好|有点|突然)?(?:疼|痛|绞痛)",
            r"心绞痛|心梗|心肌梗",
            r"(?:疼|痛)(?:一直)?(?:放射|蔓延|传|窜)到?了?(?:左边?)?(?:胳膊|手臂|下巴|下颌)",
        ),
        en=(
            r"chest (?:pain|pains|pressure|tightness|discomfort|aches?|hurts?|is hurting"
            r"|(?:is|feels|felt) (?:so |very |really )?(?:tight|heavy|painful|sore|like))",
            r"(?:crushing|squeezing|tight|heavy) chest",
            rf"(?:pain|pressure|tightness|heaviness) (?:in|on|across) {_WHOSE} chest",
            r"heart attack|angina",
            r"pain (?:is )?(?:radiating|spreading|going|shooting|moving|travell?ing) "
            r"(?:(?:down|up|to|into) )+"
            rf"(?:{_WHOSE} )?(?:left )?(?:arm|jaw)",
        ),
    ),
)

# Reused by the anaphylaxis rule: hives plus any of these is a severe allergic reaction.
_BREATHING: Final = Terms(
    zh=(
        r"呼吸困难",
        r"呼吸(?:很|非常|特别)?(?:急促|费力|不畅|不过来)",
        r"喘不(?:上|过|动)(?:气|来)",
        r"透不过气|上不来气|气(?:都)?喘不(?:上来|过来)",
        r"(?:无法|不能|没法|没办法)呼吸|呼吸不了",
        # "没呼吸了" is the emergency; "没有呼吸困难" is a denial and must fall to the negation check.
        r"没(?:有|了)?呼吸(?!困难|急促|不畅|费力|道|系统|科)",
        r"停止呼吸|呼吸(?:停止|停了|没了)",
        r"窒息|噎住|卡(?:在|住了?)?气管",
        r"(?:嘴唇|口唇|嘴巴|脸)(?:都|有点|有些|已经|开始)?(?:发|变得?|憋)?(?:紫|青|乌|绀)",
        r"喘得?(?:厉害|说不出话|不行)",
    ),
    en=(
        rf"{_CANT} (?:breathe|breath|catch (?:my|his|her|their) breath|get (?:enough )?air)",
        r"(?:difficulty|trouble|struggling|struggle|hard|problems?) (?:in |to |with )?breath(?:e|ing)",
        r"(?:severe|severely|very|extremely|really|so|badly|seriously) "
        r"(?:short of breath|shortness of breath|breathless|out of breath)",
        r"short(?:ness)? of breath (?:at rest|even at rest|while resting|lying down)",
        r"gasping(?: for (?:air|breath))?|suffocat\w*",
        r"(?:not|isn'?t|wasn'?t|stopped|has stopped|stop) breathing",
        r"chok(?:e|es|ed|ing)",
        r"(?:lips?|face|skin|fingers?|fingernails) (?:is |are |has |have |was |were )?"
        r"(?:turning |turned |gone |going |look |looks |looking )?(?:blue|purple|grey|gray)",
        r"blue lips|turning blue",
        r"(?:severe|bad) asthma attack",
    ),
)

_BREATHING_DIFFICULTY: Final = RedFlagRule(
    flag=RedFlag(
        code="breathing_difficulty",
        name="呼吸困难",
        name_en="Difficulty breathing",
        advice="保持坐直或取最容易呼吸的姿势，松开衣领；如果是被食物或异物噎住、不能说话或咳嗽，"
        "请身边的人立即使用海姆立克急救法。",
        advice_en="Sit upright or in whatever position makes breathing easiest and loosen the collar. "
        "If someone is choking on food or an object and cannot speak or cough, a person nearby should "
        "give abdominal thrusts (the Heimlich manoeuvre) right away.",
    ),
    alone=_BREATHING,
)

_STROKE_SIDE: Final = r"(?:一侧|一边|半边|半身|单侧|[左右](?:侧|边|半边|半身)?)"
_STROKE_PART: Final = r"(?:的)?(?:身体|身子|肢体|手脚|手臂|胳膊|手|腿|脚|脸)?"
_STROKE_LOSS: Final = r"(?:无力|没力气?|没劲|麻木?|发麻|不能动|动不了|抬不起来?|不听使唤|没有?知觉)"

_STROKE_SIGNS: Final = RedFlagRule(
    flag=RedFlag(
        code="stroke_signs",
        name="疑似中风（脑卒中）",
        name_en="Possible stroke",
        advice="记下症状开始的准确时间，这决定能否进行溶栓等治疗；让患者躺下或侧卧，"
        "不要给患者吃喝任何东西，包括药物。",
        advice_en="Note the exact time the symptoms started: it decides which treatments are possible. "
        "Let the person lie down or on their side, and give nothing to eat or drink, including "
        "medicines.",
    ),
    alone=Terms(
        zh=(
            r"(?:口角|嘴角|嘴巴?|脸|面部|半边脸)(?:突然|有点|有些|也)?(?:歪|下垂|耷拉|麻木|不对称)",
            r"面瘫",
            rf"{_STROKE_SIDE}{_STROKE_PART}(?:突然|都|有点|有些|完全|一下子)?{_STROKE_LOSS}",
            r"(?:说话|讲话|口齿|吐字)(?:突然|有点|有些|也|都)?(?:不清|含糊|不利索|困难)",
            r"说不(?:清|出)(?:楚)?话|大舌头|舌头(?:突然)?(?:不灵活|发硬|打结)",
            r"突然(?:之间)?(?:变得)?(?:意识模糊|糊涂|神志不清|认不出人|看不(?:见|清)|视物模糊|失明|失语|听不懂)",
            r"(?:突然|突发)的?(?:剧烈|严重|爆炸样?|炸裂样?|撕裂样?)的?头(?:痛|疼)",
            r"突然(?:一阵)?头(?:痛|疼)得?(?:厉害|要命|受不了|不行)",
            r"剧烈的?头(?:痛|疼)|头(?:痛|疼)欲裂|头(?:痛|疼)得?(?:像|要)要?(?:炸|裂)",
            r"(?:这辈子|有生以来|从来|人生中|从没)[^,]{0,6}?最?(?:严重|厉害|剧烈|痛|疼)的?头(?:痛|疼)",
            r"最(?:严重|厉害|剧烈|痛|疼)的(?:一次)?头(?:痛|疼)",
            r"中风|脑梗|卒中|脑出血|脑溢血",
        ),
        en=(
            r"(?:face|mouth|smile) (?:is |was |has |seems |looks |started |went )?"
            r"(?:drooping|droopy|drooped|lopsided|uneven|crooked|numb)",
            r"(?:drooping|droopy) (?:face|mouth|smile)|face droop",
            rf"one side of {_WHOSE} (?:face|body) (?:is |feels |went |has gone )?"
            r"(?:drooping|droopy|numb|weak|paraly[sz]ed|limp)",
            r"(?:weak(?:ness)?|numb(?:ness)?|paraly[sz]ed|paralysis|tingling|limp) (?:in|on|of|down) "
            rf"(?:one side|{_WHOSE} (?:left|right) (?:side|arm|leg|hand|face))",
            r"(?:one|left|right)[- ]sided (?:weakness|numbness|paralysis)",
            r"(?:my|his|her|their) (?:left|right) (?:arm|leg|side|hand) "
            r"(?:is |feels |went |has gone |suddenly )*"
            r"(?:weak|numb|limp|paraly[sz]ed|dead|useless)",
            rf"{_CANT} (?:move|lift|feel|raise) (?:my|his|her|their) (?:left|right) (?:arm|leg|hand|side)",
            r"slurr(?:ed|ing)",
            r"(?:speech|talking|words?) (?:is |are |was |sounds? )?(?:slurred|garbled|jumbled)",
            rf"{_CANT} (?:speak|talk) (?:properly|clearly|normally|right)",
            rf"{_CANT} get (?:the |my |his |her |their )?words out|trouble (?:speaking|talking)",
            rf"suddenly {_CANT} (?:speak|talk|see|understand)",
            r"sudden(?:ly)? (?:very |really |so )?(?:confused|confusion|disoriented)",
            r"sudden(?:ly)? (?:lost (?:my |his |her |their )?|loss of )(?:vision|sight)|sudden blindness",
            r"worst headache|thunderclap headache",
            r"sudden(?:ly)?,? (?:a )?(?:severe|excruciating|explosive|intense|terrible|horrible|splitting) "
            r"headache",
            r"(?:severe|excruciating|explosive) headache (?:came on |started |began )?"
            r"(?:suddenly|out of nowhere|all of a sudden)",
            r"(?:mini[- ]?)?strokes?|tia",
        ),
    ),
)

_HEAVY_BLEEDING: Final = RedFlagRule(
    flag=RedFlag(
        code="heavy_bleeding",
        name="大出血",
        name_en="Heavy bleeding",
        advice="用干净的布或纱布直接用力按住出血处，不要松开查看；吐血或便血时先不要吃喝东西，"
        "可以拍下呕吐物或大便给医生看。",
        advice_en="Press firmly on the wound with a clean cloth or gauze and keep pressing without "
        "lifting it to check. If you are vomiting blood or passing blood, do not eat or drink; a "
        "photo of the vomit or stool helps the doctor.",
    ),
    alone=Terms(
        zh=(
            r"大出血|大量的?(?:出血|流血|失血)|失血过多|出血量(?:很|非常|特别)?(?:大|多)",
            r"(?:出血|流血|血)(?:一直|还在|不停地?)?(?:不止|止不住|流个不停|停不下来|止不了)",
            r"止不住(?:地|的)?(?:出血|流血)",
            r"流了?(?:很多|好多|大量|一大摊|一大滩|一地|满地)的?血|出了?(?:很多|好多|大量)的?血",
            r"(?:吐|呕)了?(?:很多|好多|大量|一大口|大口|一口)?的?(?:鲜|黑)?血",
            r"呕吐物(?:里|中)?(?:有|带|全是)血",
            r"(?:咳|咯)了?(?:很多|好多|大量|一大口|大口|满口)的?(?:鲜)?血|大咯血",
            r"(?:大量|很多|好多)的?(?:便血|血便)|(?:便血|拉血|血便)(?:很多|特别多|量(?:很|特别)?大|不止)",
            r"(?:拉|便)(?:了|出)?(?:很多|好多|大量|一大摊|一马桶)的?(?:鲜)?血",
            r"(?:大便|粪便|马桶)(?:里|中)?(?:有|全是|都是)(?:很多|好多|大量)?的?血",
            r"柏油样",
            r"(?:阴道|下身|下面)(?:突然)?(?:大量|大)(?:出血|流血)",
            r"(?:阴道|下身|下面)(?:流|出)了?(?:很多|好多|大量)的?血",
            r"(?:湿透|浸透)了?[^,]{0,4}?(?:卫生巾|护垫)|(?:卫生巾|护垫)[^,]{0,6}?(?:湿透|浸透)",
        ),
        en=(
            r"(?:heavy|heavily|severe|massive|uncontrolled|uncontrollable|profuse) (?:bleeding|blood loss)",
            r"bleeding (?:heavily|profusely|a lot|badly|so much|nonstop|non-stop|everywhere"
            r"|uncontrollably|like crazy)",
            rf"(?:{_WONT}|{_CANT}) stop(?:ping)? (?:the )?bleeding",
            rf"bleeding (?:that )?{_WONT} (?:stop|stopped)",
            r"(?:a lot of|lots of|so much|too much|a large amount of|large amounts of|tons of) blood",
            r"(?:vomit(?:ing|ed|s)?|throw(?:ing)? up|threw up|puk(?:ing|ed)) "
            r"(?:up )?(?:some |a lot of |lots of )?blood",
            rf"blood in {_WHOSE} (?:vomit|sick)",
            r"cough(?:ing|ed)? up (?:a lot of |lots of )?blood",
            r"(?:black|tarry)(?:,? (?:black|tarry))? (?:stools?|poo|poop)",
            r"soak(?:ing|ed)? (?:through )?(?:a |one |more than one |my )?(?:pad|pads|tampons?)",
            r"ha?emorrhag\w*",
        ),
    ),
)

_UNCONSCIOUS: Final = RedFlagRule(
    flag=RedFlag(
        code="unconscious",
        name="意识丧失或抽搐",
        name_en="Loss of consciousness or seizure",
        advice="让患者侧卧，保持呼吸道通畅；抽搐时移开周围的硬物，不要往嘴里塞任何东西，"
        "也不要强行按住四肢。如果没有呼吸，请按急救调度员的指导做心肺复苏。",
        advice_en="Lay the person on their side to keep the airway open. During a seizure move hard "
        "objects away, put nothing in their mouth and do not hold their limbs down. If they are not "
        "breathing, start CPR as the emergency dispatcher guides you.",
    ),
    alone=Terms(
        zh=(
            r"昏迷|晕倒|昏倒|晕厥|休克|不省人事|人事不省|突然倒地|倒地不起",
            r"(?:晕|昏)了?过去",
            r"失去了?(?:意识|知觉)",
            # "没有意识到" means "didn't realise", not "unconscious".
            r"没(?:有|了)?(?:意识|知觉)(?!到|障碍|不清|模糊)",
            r"意识(?:不清|模糊|丧失|障碍)|神志不清",
            r"(?:叫|喊|拍|摇)[^,]{0,5}?(?:不醒|没有?反应|不应|无反应)",
            # Eyelid and muscle twitches ("眼皮一直抽搐") are also called 抽搐 and are harmless.
            _not_after("眼", "嘴角", "肌肉", gap=4) + "抽搐",
            r"抽风|惊厥|癫痫(?:发作|犯了)|羊癫疯|羊角风|口吐白沫|翻白眼",
        ),
        en=(
            r"unconscious|unresponsive|(?:lost|loss of|losing) consciousness",
            r"pass(?:ed|ing)? out|faint(?:ed|ing)|black(?:ed|ing) out|collaps(?:ed|ing)|keeled over",
            r"(?:not|isn'?t|wasn'?t|stopped) respond(?:ing|ive)",
            r"(?:won'?t|wouldn'?t|doesn'?t|didn'?t) (?:wake|respond)",
            rf"{_CANT} wake (?:him|her|them|{_WHOSE} \w+)",
            r"seizures?|seizing|convuls(?:ion|ions|ing|ed)|(?:having|had) a fit|epileptic (?:fit|attack)",
        ),
    ),
)

_SUICIDAL: Final = RedFlagRule(
    flag=RedFlag(
        code="suicidal",
        name="自杀或自伤念头",
        name_en="Thoughts of suicide or self-harm",
        advice="您的生命很重要，您不必独自面对。请不要一个人待着，马上联系一位信任的人来陪您，"
        "并远离可能伤害自己的物品。可以拨打全国心理援助热线 400-161-9995，"
        "或北京心理危机研究与干预中心热线 010-82951332；如果您已经伤害了自己或有立即的危险，"
        "请马上拨打120或110。",
        advice_en="Your life matters and you do not have to face this alone. Please do not stay alone: "
        "contact someone you trust to be with you now, and keep away from anything you could use to "
        "hurt yourself. In China you can call the national psychological assistance hotline "
        "400-161-9995 or the Beijing Psychological Crisis Research and Intervention Center on "
        "010-82951332. If you have already hurt yourself or are in immediate danger, call 120 or 110 "
        "now.",
    ),
    alone=Terms(
        zh=(
            r"想死|不想活|活不下去|活着没有?(?:意思|意义|希望)",
            r"自杀|轻生|自残|自伤|伤害自己|割腕|寻死|了结自己|一死了之|不如死了|死了算了",
            r"(?:想|要)去?跳楼|(?:想|要)结束(?:自己的?)?(?:生命|一切)",
        ),
        en=(
            r"suicid\w*|kill(?:ing)? myself",
            r"end(?:ed|ing|s)? (?:my|it) (?:own )?life|end(?:ing)? it all|tak(?:e|ing) my (?:own )?life",
            r"(?:want|wanna|wanted|wish) (?:to )?die|wish i (?:was|were) dead|better off dead",
            r"(?:don'?t|do not|no longer) want to (?:live|be alive|be here)",
            r"no (?:reason|point) (?:to|in) (?:live|living|going on)",
            r"self[- ]?harm\w*|(?:hurt|harm|cut|hurting|harming|cutting) myself",
        ),
    ),
)

# Ages up to about three months, as parents write them; a bare 宝宝/baby is left out because it is
# used for toddlers and for the unborn child alike. `age_years` covers infants whose age is known.
_ZH_CHILD: Final = r"(?:宝宝|孩子|小孩|娃|婴儿|女儿|儿子|闺女)"
_ZH_INFANT_AGE: Final = (
    r"(?:(?<![0-9一二三四五六七八九十])(?:[123一二两三俩]|半|几)个(?:多|半)?月"
    r"|(?<![0-9])(?:[0-9]{1,2}|[一二三四五六七八九十]{1,3}|几)天"
    r"|(?<![0-9一二三四五六七八九十])(?:[1-9]|1[0-3]|[一二三四五六七八九十]|十[一二三]|几)(?:周|个?星期))"
)
_EN_NUMBER_WORD: Final = r"(?:a|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen)"
_EN_INFANT_AGE: Final = (
    rf"(?:(?:[0-9]{{1,2}}|{_EN_NUMBER_WORD}|a few|few|a couple of)[- ]days?"
    rf"|(?:[1-9]|1[0-3]|{_EN_NUMBER_WORD}|a few|few|a couple of)[- ]weeks?"
    r"|(?:[1-3]|a|one|two|three|a couple of)[- ]months?)"
)

_FEVER: Final = Terms(
    zh=(
        r"发烧|发热|高烧|高热|低烧|烧到|烧得",
        r"(?:体温|温度)(?:有|到|达到|是|高达|量了?)?(?:3[89]|4[0-2])",
        r"(?<![0-9.])(?:3[89]|4[0-2])(?:\.[0-9])?(?:度|°c|°|摄氏度)",
        r"(?:额头|身上|浑身|身体)(?:很|好|特别|有点)?(?:烫|滚烫)",
    ),
    en=(
        r"fever\w*|febrile|high temperature|burning up|hot to the touch",
        r"(?:temperature|temp) (?:of |is |was |at |reached |hit |up to |around |about )*"
        r"(?:3[89]|4[0-2]|10[0-7])",
        r"(?:3[89]|4[0-2])(?:\.[0-9])? ?(?:°c|°|c|degrees)",
    ),
)

_INFANT_FEVER: Final = RedFlagRule(
    flag=RedFlag(
        code="infant_fever",
        name="小婴儿发热（3个月以下）",
        name_en="Fever in a young infant (under 3 months)",
        advice="3个月以下的婴儿发烧可能是严重感染的信号，请立即带孩子去急诊，最好是儿科急诊；"
        "在医生看过之前不要自行给孩子用退烧药，不要用酒精擦身，也不要把孩子捂得很厚。",
        advice_en="In a baby under 3 months, fever can be the only sign of a serious infection: take "
        "the baby to an emergency department now, ideally a paediatric one. Do not give fever "
        "medicine before a doctor has seen the baby, do not sponge with alcohol and do not bundle the "
        "baby up.",
    ),
    together=(
        Terms(
            zh=(
                r"新生儿|婴儿|奶娃|刚出生|满月",
                rf"{_ZH_CHILD}(?:才|刚|刚刚|只有|刚满|出生)?{_ZH_INFANT_AGE}",
                rf"{_ZH_INFANT_AGE}大?的?{_ZH_CHILD}",
                rf"月子里的?{_ZH_CHILD}|出生(?:才)?{_ZH_INFANT_AGE}",
            ),
            en=(
                r"new[- ]?borns?|neonat\w*|infants?",
                rf"{_EN_INFANT_AGE}[- ]old",
                r"(?:baby|son|daughter|child|kid|boy|girl|grandson|granddaughter) (?:is|was) "
                rf"(?:only |just |barely )?{_EN_INFANT_AGE}(?: old)?",
            ),
        ),
        _FEVER,
    ),
    for_infants=_FEVER,
)

_ANAPHYLAXIS: Final = RedFlagRule(
    flag=RedFlag(
        code="anaphylaxis",
        name="严重过敏反应",
        name_en="Severe allergic reaction (anaphylaxis)",
        advice="如果医生给您开过肾上腺素自动注射笔，请按说明立即使用；远离可疑的过敏原。"
        "呼吸困难时坐起来，头晕时平躺并抬高双腿。",
        advice_en="If you have an adrenaline (epinephrine) auto-injector prescribed by a doctor, use it "
        "now as its instructions say, and get away from the suspected trigger. Sit up if breathing is "
        "hard; lie flat with the legs raised if you feel faint.",
    ),
    alone=Terms(
        zh=(
            r"喉(?:头|咙|部)水肿|过敏性休克|严重的?过敏",
            r"舌头(?:突然|一下子)?(?:肿|变大|变厚)",
            r"(?:嘴唇|眼睛|脸)(?:和|跟)?(?:舌头|喉咙)都?肿",
            # "喉咙肿痛" is an ordinary sore throat: swelling counts only with trouble breathing or
            # swallowing.
            r"(?:喉咙|嗓子)(?:发紧|收紧|被堵住|肿得?[^,]{0,3}?(?:喘不|说不出|咽不下|呼吸|透不过))",
            r"(?:喉咙|嗓子)(?:像|好像)被?(?:堵|卡|掐)住",
        ),
        en=(
            r"anaphyla\w*|severe allergic reaction|allergic shock|epi-?pen",
            r"throat (?:is |feels |was )?(?:closing|tightening|swelling|swollen shut)",
            rf"swelling (?:in|of) {_WHOSE} (?:throat|tongue)",
            r"(?:tongue|lips and tongue) (?:is |are |was |has |feels )?(?:swelling|swollen|swelled|huge)",
            r"swollen tongue",
        ),
    ),
    together=(
        Terms(
            zh=(
                r"过敏|荨麻疹|风团|风疹块",
                r"起了?(?:很多|一身|满身|全身)?的?(?:疹子|红疹|包)",
                r"(?:蜜蜂|马蜂|黄蜂|蜂)蛰|吃了?(?:花生|海鲜|虾|芒果|坚果)",
            ),
            en=(
                r"allerg\w*|hives|welts|rash all over",
                r"(?:bee|wasp|hornet) stings?|stung by",
                r"ate (?:a |some )?(?:peanuts?|nuts|shellfish|shrimps?|prawns?)",
            ),
        ),
        _BREATHING
        + Terms(
            zh=(r"喉咙发紧|嗓子发紧|晕倒|头晕|眼前发黑",),
            en=(r"throat (?:feels |is )?tight|faint\w*|dizzy|light-?headed",),
        ),
    ),
)

_POISONING: Final = RedFlagRule(
    flag=RedFlag(
        code="poisoning",
        name="中毒或药物过量",
        name_en="Poisoning or overdose",
        advice="不要自行催吐，也不要喝牛奶、醋等“解毒”；把药瓶、包装或可疑物品带去医院。"
        "皮肤或眼睛接触了毒物时，用大量清水持续冲洗。",
        advice_en="Do not try to make the person vomit and do not give milk or other home remedies. "
        "Take the bottle, packet or suspected substance to the hospital. If it touched the skin or "
        "eyes, rinse with plenty of running water.",
    ),
    alone=Terms(
        zh=(
            r"中毒|误服|误食|误吞|误喝",
            r"农药(?!残留)|百草枯|敌敌畏|老鼠药|鼠药|杀虫剂|除草剂",
            r"喝了?(?:消毒液|消毒水|84|漂白剂|洁厕灵|汽油|煤油|防冻液)",
            r"(?:吃|吞|服)了?(?:很多|好多|大量|一整瓶|一瓶|一大把|一把|一整板|一板|整板|整瓶|一盒|一整盒|过量|太多)"
            r"的?[^,]{0,6}?(?:药|片|胶囊)",
            r"(?:服药|药物|吃药)过量|过量(?:服用|服药|吃药)",
            r"(?:把|将)[^,]{0,8}?药[^,]{0,4}?(?:全|都)(?:吃|吞|喝)了",
            r"吞了?(?:电池|纽扣电池|磁铁|磁珠)|一氧化碳",
        ),
        en=(
            r"poison(?:ed|ing|ous|s)?(?! ivy| oak| sumac)",
            r"overdos\w*|od'd",
            r"(?:took|taken|take|swallowed|ate|had|taking) (?:too many|a lot of|lots of|way too many"
            rf"|all (?:of )?{_WHOSE}|a whole (?:bottle|pack|packet|box|strip) of"
            r"|an entire (?:bottle|pack|packet|box) of|a (?:bottle|handful) of|[0-9]{2,}|twenty|thirty|fifty)"
            r" (?:\w+ ){0,2}?(?:pills|tablets|medication|medications|medicine|medicines|meds|capsules"
            r"|paracetamol|tylenol|acetaminophen|ibuprofen|aspirin)",
            r"(?:swallowed|drank|drunk|ingested|ate|eaten) (?:some |a |the |a lot of |lots of )?"
            r"(?:poison|bleach|pesticide|insecticide|weed ?killer|herbicide|rat poison|antifreeze|detergent"
            r"|cleaning (?:fluid|product)|laundry pods?|drain cleaner|button batter(?:y|ies)|batter(?:y|ies)"
            r"|magnets?|paraquat|kerosene|gasoline|petrol|lighter fluid)",
            r"pesticides?(?! residue)|insecticide|weed ?killer|rat poison|antifreeze|paraquat",
            r"carbon monoxide",
        ),
    ),
)

_SEVERE_TRAUMA_BURN: Final = RedFlagRule(
    flag=RedFlag(
        code="severe_trauma_burn",
        name="严重外伤或烧烫伤",
        name_en="Serious injury or burn",
        advice="怀疑头颈部或脊柱受伤时不要随意搬动伤者；出血处直接用力按压。烧烫伤用流动的凉水冲洗"
        "15到20分钟，不要涂牙膏、酱油或药膏，不要弄破水疱。头部受伤后呕吐、嗜睡或意识改变都需要马上就医。",
        advice_en="If the head, neck or spine may be hurt, do not move the person unless they are in "
        "danger; press firmly on any bleeding. Cool burns under cool running water for 15 to 20 "
        "minutes, put nothing else on them and do not break blisters. Vomiting, drowsiness or "
        "confusion after a head injury needs urgent care.",
    ),
    alone=Terms(
        zh=(
            r"车祸|被车撞|撞车",
            r"从[^,]{0,8}?(?:高处|楼上|楼梯|梯子|屋顶|房顶|阳台|树上|脚手架)[^,]{0,3}?(?:摔|掉|跌|坠)了?下来",
            r"高处(?:坠落|摔下|跌落)|坠楼",
            r"严重的?(?:外伤|受伤|烧伤|烫伤|撞伤|摔伤)|伤得(?:很|非常|特别)?(?:重|严重)|重伤",
            r"大面积的?(?:烧伤|烫伤|灼伤)|(?:全身|半身)(?:都|大面积)?被?(?:烧伤|烫伤|烧|烫)",
            r"(?:脸|面部)被?(?:烧伤|烫伤|灼伤)|(?:三度|深二度|重度)的?(?:烧伤|烫伤)|化学(?:品)?(?:烧伤|灼伤)",
            r"(?:烧伤|烫伤)了?(?:一大片|很大一片|大片)|(?:一大片|大片)的?(?:烧伤|烫伤)",
            r"电击|触电",
            r"骨头?都?(?:露|戳|刺|穿)出来|开放性骨折",
            r"被?(?:刀|匕首)[^,]{0,3}?(?:捅|刺|砍)|刺伤|砍伤|枪伤|中枪|断肢",
            r"(?:手指|手|脚|脚趾|腿|胳膊)被?[^,]{0,4}?(?:切断|截断|轧断|压断)",
        ),
        en=(
            r"(?:car|motorbike|motorcycle|bike|traffic|road) (?:accident|crash|collision)",
            r"hit by a (?:car|truck|lorry|bus|van|vehicle|motorbike|motorcycle)|run over",
            r"(?:serious|severe|major|bad|terrible) (?:injury|injuries|accident|trauma|burns?|wound)",
            r"(?:badly|severely|seriously) (?:hurt|injured|burned|burnt|wounded)",
            r"(?:third|3rd)[- ]degree burns?|(?:large|big|huge|extensive) burns?",
            r"burns? (?:over|on|covering|all over) (?:a large|large|most|much|half|the whole|a big"
            r"|(?:my|his|her|their) (?:whole|entire))",
            r"f[ae]ll (?:from|off) (?:a |the |his |her |my |their )?(?:height|roof|ladder|balcony|window"
            r"|building|scaffold(?:ing)?|tree|bridge|(?:second|third|fourth|2nd|3rd|4th) floor)",
            r"stabbed|stab wounds?|knife wounds?|gunshot|(?:been|was|got|were) shot",
            r"bone (?:is )?(?:sticking|poking|coming) out|open fracture",
            r"electrocut\w*|electric shock|amputat\w*",
            rf"(?:cut|chopped|sliced) off {_WHOSE} (?:finger|hand|toe|foot)",
        ),
    ),
    # A knock to the head is common and usually harmless; vomiting or drowsiness after it is not.
    together=(
        Terms(
            zh=(
                r"(?:撞|磕|摔|碰|打)(?:到|伤|破)?了?(?:头|脑袋|后脑勺?)",
                r"(?:头|脑袋)(?:部)?(?:受伤|外伤|撞伤|被撞|着地|先着地|撞到|磕到|碰到|撞在|磕在)",
            ),
            en=(
                r"(?:hit|hurt|banged|bumped|injured|knocked|struck|smashed|cracked) "
                r"(?:my|his|her|their|the) head",
                r"head (?:injury|injuries|trauma|wound)|concussion",
                r"(?:fell|landed) on (?:my|his|her|their) head",
            ),
        ),
        Terms(
            zh=(r"呕吐|吐了|一直吐|想吐|恶心|嗜睡|想睡觉|昏昏欲睡|犯困|迷糊|糊涂|头晕|抽搐",),
            en=(
                r"vomit\w*|throw(?:ing)? up|threw up|thrown up|puk(?:e|es|ed|ing)",
                r"nause\w*|drowsy|sleepy|confused|dizzy",
            ),
        ),
    ),
)

_PREGNANCY_EMERGENCY: Final = RedFlagRule(
    flag=RedFlag(
        code="pregnancy_emergency",
        name="孕期急症",
        name_en="Pregnancy emergency",
        advice="孕期出现明显腹痛、阴道出血、破水或胎动明显减少，都需要马上就医；请带上产检资料，"
        "去急诊或产科急诊，破水时尽量平躺。",
        advice_en="Abdominal pain, vaginal bleeding, waters breaking or the baby moving much less "
        "during pregnancy all need care now. Take your pregnancy notes to the emergency or maternity "
        "department, and lie down if your waters have broken.",
    ),
    alone=Terms(zh=(r"宫外孕|异位妊娠|胎盘早剥",), en=(r"ectopic|placental abruption",)),
    # Any abdominal pain counts here, not only severe pain: an ectopic pregnancy can start mildly.
    together=(
        Terms(
            zh=(
                r"怀孕|怀了(?:宝宝|孩子|孕|二胎|三胎)?|孕妇|孕期|孕早期|孕中期|孕晚期|妊娠",
                r"孕[0-9一二三四五六七八九十]+(?:周|个?月)",
            ),
            en=(
                r"pregnan\w*|expecting (?:a baby|twins)|trimester",
                r"(?:my|the) (?:unborn baby|fetus|foetus)",
            ),
        ),
        Terms(
            zh=(
                r"腹痛|(?:肚子|小腹|下腹|小肚子)(?:很|好|非常|特别|剧烈|有点|一阵一阵|突然){0,2}(?:疼|痛|坠痛|绞痛)",
                r"出血|流血|见红|破水|羊水(?:破|流)",
                r"胎动(?:明显)?(?:减少|变少|少了|消失|没了|停了)",
            ),
            en=(
                r"(?:abdominal|stomach|belly|tummy|pelvic) (?:pain|pains|cramps?|cramping)|cramps|cramping",
                r"bleeding|blood|spotting",
                r"waters? (?:has |have )?(?:broke|broken|breaking)",
                r"(?:baby|the baby) (?:is not|isn'?t|stopped|has stopped|hasn'?t been) moving",
                r"(?:reduced|decreased|less|no) (?:fetal |foetal |baby )?movements?",
            ),
        ),
    ),
)

_SEVERE_ABDOMINAL_PAIN: Final = RedFlagRule(
    flag=RedFlag(
        code="severe_abdominal_pain",
        name="剧烈腹痛",
        name_en="Severe abdominal pain",
        advice="在医生检查之前先不要吃喝东西，也不要自行服用止痛药，以免掩盖病情、耽误诊断。",
        advice_en="Do not eat or drink until a doctor has examined you, and do not take painkillers on "
        "your own: they can hide what is wrong and delay the diagnosis.",
    ),
    alone=Terms(
        zh=(
            r"(?:剧烈|严重|难以忍受|撕裂样|刀割样)的?(?:腹痛|肚子(?:疼|痛)|腹部(?:疼|痛))",
            r"(?:肚子|腹部|小腹|上腹|下腹|胃)(?:突然)?(?:剧烈)?(?:疼|痛)得?"
            r"(?:要命|受不了|厉害|直不起腰|死去活来|满地打滚|打滚|不行|出冷汗|冒冷汗)",
            r"腹痛(?:难忍|剧烈|得?厉害)",
            r"(?:疼|痛)得?(?:满地)?打滚",
            r"(?:肚子|腹部)(?:变得?|摸起来|摸着|按着)?(?:很|特别|非常)?(?:硬得?像(?:木板|石头|板子)|硬邦邦)",
            r"(?:肚子|腹部)(?:突然)?变得?(?:很|特别)?硬|板状腹",
        ),
        en=(
            r"(?:severe|excruciating|unbearable|agonizing|agonising|intense|terrible|horrible|extreme"
            r"|crippling|worst) (?:\w+ )?(?:abdominal|stomach|belly|tummy|abdomen) "
            r"(?:pain|pains|ache|cramps?)",
            r"(?:abdominal|stomach|belly|tummy) (?:pain|ache) (?:is |has become |got )?(?:so |really |very )?"
            r"(?:severe|excruciating|unbearable|agonizing|agonising|intense)",
            r"(?:stomach|belly|abdomen|tummy) (?:is|feels|became|went) (?:\w+ )?(?:hard|rigid)",
            r"rigid (?:abdomen|stomach|belly)|board-?like (?:abdomen|belly)",
            r"doubled over (?:in|with) pain|(?:writhing|rolling around) in pain",
        ),
    ),
)

# The order here is the order of detect_red_flags' result and of the advice.
RED_FLAGS: Final[tuple[RedFlagRule, ...]] = (
    _CHEST_PAIN,
    _BREATHING_DIFFICULTY,
    _STROKE_SIGNS,
    _HEAVY_BLEEDING,
    _UNCONSCIOUS,
    _SUICIDAL,
    _INFANT_FEVER,
    _ANAPHYLAXIS,
    _POISONING,
    _SEVERE_TRAUMA_BURN,
    _PREGNANCY_EMERGENCY,
    _SEVERE_ABDOMINAL_PAIN,
)

EMERGENCY_ADVICE: Final[dict[Language, str]] = {
    "zh": "您描述的情况可能危及生命。请立即拨打120或前往最近的急诊，不要等待线上回复，也尽量不要独自前往。",
    "en": "What you describe may be life-threatening. Please call 120 (or your local emergency "
    "number) now or go to the nearest emergency department; do not wait for an online reply, and "
    "try not to go alone.",
}


def detect_red_flags(text: str, age_years: float | None = None) -> list[RedFlag]:
    """The red flags in a patient's message, in RED_FLAGS order and each at most once.

    `age_years`, when the caller knows it, lets a fever alone flag a baby under three months.
    """
    clauses = _clauses(text)
    if not clauses:
        return []
    infant = age_years is not None and age_years < INFANT_AGE_YEARS
    return [rule.flag for rule in RED_FLAGS if rule.matches(clauses, infant=infant)]


def emergency_advice(flags: list[RedFlag], language: Language) -> str:
    """The general emergency advice, then each flag's own advice, one paragraph per line."""
    lines = [EMERGENCY_ADVICE[language]]
    seen: set[str] = set()
    for flag in flags:
        if flag.code in seen:
            continue
        seen.add(flag.code)
        if language == "zh":
            lines.append(f"【{flag.name}】{flag.advice}")
        else:
            lines.append(f"{flag.name_en}: {flag.advice_en}")
    return "\n".join(lines)


__all__ = [
    "EMERGENCY_ADVICE",
    "INFANT_AGE_YEARS",
    "RED_FLAGS",
    "Language",
    "RedFlag",
    "RedFlagRule",
    "Terms",
    "detect_red_flags",
    "emergency_advice",
]
