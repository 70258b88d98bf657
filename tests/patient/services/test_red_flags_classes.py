"""Every class of emergency is caught the many ways patients say it, in Chinese and English, and
the same sentence denied ("没有...", "no ...") or an ordinary complaint close to it is not."""

from __future__ import annotations

import pytest

from backend.patient.services.red_flags import detect_red_flags, red_flags

# code -> (message that must raise the flag, its negated twin that must raise nothing)
CASES: dict[str, list[tuple[str, str]]] = {
    "chest_pain": [
        ("我心口疼了一上午，还出冷汗", "心口不疼，就是胃有点胀"),
        ("胸骨后面闷痛，像压了块石头", "没有胸闷，也没有胸痛"),
        ("左胸这块一阵阵刺痛", "左胸不痛，是左边肩膀酸"),
        ("My chest feels tight and heavy", "My chest doesn't feel tight, my throat is just sore"),
        ("there's pressure in the middle of my chest", "no pressure in my chest, only a cough"),
        ("I think I'm having a heart attack", "I'm not having a heart attack, it's just a cold"),
    ],
    "breathing_difficulty": [
        ("我喘不上气来，说话都费劲", "没有喘不上气，就是鼻子堵"),
        ("孩子呼吸特别急，吸气时肋骨那里往里凹", "孩子呼吸不急，就是流鼻涕"),
        ("爷爷憋得嘴唇发紫", "嘴唇没有发紫，脸色也正常"),
        ("I can't breathe properly", "I don't have any difficulty breathing"),
        ("she's struggling to breathe and wheezing badly", "no trouble breathing, just a runny nose"),
        ("my son is choking on a sweet", "he isn't choking, he just coughs at night"),
    ],
    "stroke_signs": [
        ("我爸嘴角突然歪了", "嘴角没有歪，就是牙疼"),
        ("妈妈右边身子突然没力气", "没有一侧无力，只是浑身乏力"),
        ("奶奶说话突然说不清了", "说话清楚，没有口齿不清"),
        ("his face is drooping on one side", "no face droop, no weakness, just tired"),
        ("sudden weakness in my left arm", "I have no numbness in my right arm, only a cut"),
        ("she suddenly can't speak properly", "her speech isn't slurred, she has a cold"),
    ],
    "heavy_bleeding": [
        ("手指切了个口子，按了半天血还在往外冒", "伤口没有流血了，已经结痂"),
        ("来月经一小时就要换一片卫生巾", "月经量正常，没有大出血"),
        ("鼻血流了一个小时止不住", "鼻子没出血，就是干"),
        ("the cut on his leg won't stop bleeding", "there's no heavy bleeding, just a scrape"),
        ("blood is gushing out of the wound", "it isn't bleeding heavily any more"),
        ("I'm soaking through a pad every hour", "my period is normal, no heavy bleeding"),
    ],
    "gi_bleeding": [
        ("这两天大便是黑色的，像柏油", "大便颜色正常，不黑"),
        ("早上吐了一大口血", "没有吐血，就是反酸"),
        ("拉了好多血，马桶里全是血", "大便没有带血，只是有点干"),
        ("my poo has been black and sticky for two days", "no black stools, just constipation"),
        ("I threw up blood this morning", "I didn't vomit blood, just food"),
        ("there was blood in my stool and now I feel faint", "no blood in my stool and I don't feel faint"),
    ],
    "unconscious": [
        ("外公刚才晕过去了", "没有晕倒，就是有点累"),
        ("孩子突然全身抽搐，叫不醒", "没有抽搐，睡得很好"),
        ("老公癫痫又发作了", "他没有癫痫，只是头痛"),
        ("she collapsed in the kitchen", "she didn't collapse, she just sat down"),
        ("he had a seizure ten minutes ago", "no seizures, just a fever"),
        ("my mother is unresponsive", "she is not unresponsive, she is talking normally"),
    ],
    "arrhythmia": [
        ("心跳特别快，一分钟一百八十多下，眼前发黑", "心跳不快，也没有头晕"),
        ("心率只有38，头晕得站不住", "心率72，没有头晕"),
        ("心慌得厉害，刚才差点晕倒", "没有心慌，也没有晕倒"),
        ("my heart is racing at 190 and I'm about to pass out", "my heart isn't racing and I'm not dizzy"),
        ("pulse of 35 and I keep nearly fainting", "pulse of 70 and I feel fine"),
        ("palpitations and I almost passed out", "no palpitations, no dizziness"),
    ],
    "suicidal": [
        ("我不想活了", "我没有想死的念头，就是睡不好"),
        ("已经写好遗书了", "没有想过自杀，只是压力大"),
        ("攒了很多安眠药", "没有自杀的想法，就是失眠"),
        ("I want to end my life", "I have no thoughts of suicide"),
        ("I've been hurting myself again", "I'm not thinking of hurting myself"),
        ("there's no point in living", "I don't want to die, I just feel tired"),
    ],
    "infant_fever": [
        ("宝宝刚满月，体温38度3", "宝宝刚满月，没有发烧"),
        ("两个月大的孩子发烧了", "两个月大的宝宝不发烧，就是有点鼻塞"),
        ("出生十来天的宝宝发热", "出生十来天的宝宝体温正常，没有发热"),
        ("my 5-week-old has a fever of 38.4", "my 5-week-old has no fever, just hiccups"),
        ("newborn with a temperature of 100.6", "newborn without fever, feeding well"),
        ("my baby is 7 weeks old and feels hot, 38.2", "my baby is 7 weeks old and has no fever"),
    ],
    "febrile_convulsion": [
        ("孩子发高烧，突然抽搐，眼睛往上翻", "孩子发烧，没有抽搐"),
        ("宝宝烧得抽筋了", "宝宝发烧但是没有抽筋"),
        ("儿子高热惊厥了", "儿子以前没有高热惊厥"),
        ("my toddler has a fever and just had a seizure", "my toddler has a fever but no seizures"),
        ("my daughter had a febrile seizure", "my daughter didn't have a febrile seizure"),
        ("baby has a high temperature and is jerking", "baby has a fever and isn't jerking or stiff"),
    ],
    "child_high_fever": [
        ("孩子3岁，烧到40.2度", "孩子3岁，没有烧到40度"),
        ("女儿高烧四十度", "女儿没有发烧"),
        ("我家宝宝发烧41℃", "我家宝宝体温37度，不发烧"),
        ("my 4 year old has a temperature of 104", "my 4 year old has no fever"),
        ("my son's fever is 40.5", "my son's temperature is not above 38"),
        ("toddler with a temp of 40.1 C", "toddler without a fever, just teething"),
    ],
    "meningitis_sepsis": [
        ("发烧39度，脖子硬得低不下头", "发烧，脖子不硬"),
        ("孩子发烧，身上起了紫红色的小点", "孩子发烧，身上没有紫色的点"),
        ("身上的疹子按压也不褪色", "疹子按压会褪色，不痒"),
        ("high fever and a stiff neck", "fever but no stiff neck"),
        ("she has a fever and she's really confused", "she has a fever but isn't confused"),
        ("a rash that doesn't fade when I press a glass on it", "a rash that fades when pressed, no fever"),
    ],
    "anaphylaxis": [
        ("吃了花生以后喉咙发紧", "吃了花生以后没有喉咙发紧"),
        ("打完针全身起风团，喘不上气", "打完针没有起风团，也不喘"),
        ("舌头突然肿起来了", "舌头没有肿，就是溃疡"),
        ("my throat is closing up after eating shrimp", "my throat isn't swelling, it's just sore"),
        ("hives all over and I'm struggling to breathe", "a few hives but no trouble breathing"),
        ("I think it's anaphylaxis", "it's not anaphylaxis, just hay fever"),
    ],
    "envenomation": [
        ("在山上被毒蛇咬了", "没有被蛇咬，是被树枝划了"),
        ("孩子被蝎子蛰了", "没有被蝎子蛰，是蚊子包"),
        ("被虫子咬了，整条腿都肿了", "被蚊子咬了，没有肿"),
        ("a snake bit me on the ankle", "I wasn't bitten by a snake"),
        ("I got stung by a jellyfish", "I wasn't stung by a jellyfish, I just got sunburnt"),
        ("something bit me and the swelling is spreading fast", "a mosquito bit me and it's a little itchy"),
    ],
    "poisoning": [
        ("孩子误喝了消毒水", "孩子没有误喝消毒水"),
        ("我吃了一整瓶安眠药", "我没有吃安眠药"),
        ("我爸喝了农药", "没有喝农药，是喝了点酒"),
        ("my toddler swallowed a button battery", "my toddler didn't swallow anything"),
        ("I took 40 tablets of paracetamol", "I didn't take any extra tablets"),
        (
            "we think it's carbon monoxide poisoning, we all have headaches",
            "no carbon monoxide, just a headache",
        ),
    ],
    "severe_trauma": [
        ("骑车被汽车撞了", "没有被车撞，只是自己摔了一下"),
        ("从二楼摔下来了", "没有从高处摔下来，只是扭了脚"),
        ("孩子磕到头以后一直吐", "孩子磕到头，没有吐，也不困"),
        ("I was hit by a car", "I wasn't hit by a car, I tripped"),
        ("he fell off a ladder", "he didn't fall off the ladder, he just strained his back"),
        ("my husband was stabbed", "no one has been stabbed, it's a small cut"),
    ],
    "severe_burn": [
        ("被开水烫伤了大半个后背", "被开水烫了一下手指，有点红"),
        ("脸被火烧伤了", "脸没有烧伤，是晒黑了"),
        ("工人被硫酸溅到胳膊上了", "没有溅到硫酸，戴着手套"),
        ("I spilled boiling water on most of my back", "I burned my finger on the stove"),
        ("my face got burned by the gas flame", "my face wasn't burned, it's just red from the sun"),
        ("my son touched a live wire", "no electric shock, he just touched a warm pan"),
    ],
    "ectopic_pregnancy": [
        ("月经推迟两周，突然下腹剧痛", "月经推迟两周，没有腹痛，也不头晕"),
        ("验孕棒两道杠，刚才晕倒了", "验孕棒两道杠，没有晕倒，也没有腹痛"),
        ("停经40天，右下腹疼得厉害", "停经40天，肚子不疼"),
        ("my period is late and I have severe pain on my left side", "my period is late but I have no pain"),
        ("positive pregnancy test and I just fainted", "positive pregnancy test, no pain, no fainting"),
        (
            "I missed my period and I have stabbing pain in my lower belly",
            "I missed my period, no pain at all",
        ),
    ],
    "pregnancy_emergency": [
        ("怀孕30周，今天见红了", "怀孕30周，没有见红"),
        ("孕36周，羊水破了", "孕36周，羊水没破"),
        ("怀孕32周，一整天感觉不到胎动", "怀孕32周，胎动正常"),
        ("I'm 30 weeks pregnant and bleeding", "I'm 30 weeks pregnant, no bleeding, no pain"),
        ("I think my waters have broken", "my waters haven't broken"),
        (
            "the baby hasn't moved since this morning, I'm 34 weeks",
            "the baby is moving normally, I'm 34 weeks",
        ),
    ],
    "preeclampsia": [
        ("怀孕34周，看东西模糊，眼前冒金星", "怀孕34周，眼睛不花，看东西清楚"),
        ("孕晚期血压165/112", "孕晚期血压115/75"),
        ("孕32周，脸和手突然肿了", "孕32周，脸和手都不肿"),
        ("I'm 35 weeks pregnant with blurred vision", "I'm 35 weeks pregnant, no blurred vision"),
        ("pregnant and my blood pressure is 170/115", "pregnant and my blood pressure is 118/76"),
        ("I'm pregnant and have a headache that won't go away", "I'm pregnant and have no headache"),
    ],
    "gynaecological_emergency": [
        ("有卵巢囊肿，刚才突然右下腹剧痛", "有卵巢囊肿，肚子不疼"),
        ("医生说可能是黄体破裂", "医生说不是黄体破裂"),
        ("同房后突然小腹疼得厉害", "同房后没有腹痛"),
        (
            "I have an ovarian cyst and suddenly severe pain on my right side",
            "I have an ovarian cyst but no pain",
        ),
        ("I think my ovary is twisted", "the scan showed no ovarian torsion"),
        ("severe lower abdominal pain after sex", "no pain after sex"),
    ],
    "severe_abdominal_pain": [
        ("肚子疼得直不起腰", "肚子不疼了"),
        ("胃突然像刀割一样疼", "胃不疼，就是胀"),
        ("肚子硬得像木板", "肚子软软的，不硬"),
        ("I have excruciating stomach pain", "I don't have severe abdominal pain"),
        ("my belly is rigid and hurts to touch", "my belly isn't rigid, just a bit bloated"),
        ("I'm doubled over in pain", "I'm not in severe pain any more"),
    ],
}

# Ordinary complaints close to each class: false alarms cost the patients' trust too.
NEIGHBOURS = [
    "胃里反酸，有点烧心",
    "I get heartburn after spicy food",
    "跑步以后有点喘，休息一下就好",
    "I get a bit winded walking uphill",
    "玩手机久了手指有点麻",
    "my foot fell asleep",
    "刷牙的时候牙龈出血",
    "paper cut on my finger, bleeding a little",
    "吃了铁剂以后大便发黑",
    "my stool is black since I started iron tablets",
    "站起来太快有点头晕",
    "腿抽筋了",
    "喝完咖啡心跳有点快",
    "my heart skips a beat now and then",
    "最近老是心慌，头有点晕",
    "热死了",
    "这咳嗽要累死我了",
    "想死你了",
    "I'm dying to know my test results",
    "我发烧37.8度",
    "I have a fever of 37.8",
    "孩子三岁，发烧38度5，精神还好",
    "my 4 year old has a temperature of 38.4",
    "孩子发烧39度，咳嗽",
    "宝宝一岁，发烧，手脚冰凉",
    "落枕了，脖子转不动",
    "I have a stiff neck from sleeping badly",
    "腿上有几个蚊子包，红红的",
    "花粉过敏，一直打喷嚏",
    "a few itchy hives on my arm after gardening",
    "被狗抓了一下，破了点皮",
    "my dog scratched me",
    "被蚊子咬了好多包",
    "bee sting on my hand, a little swollen",
    "I feel a bit faint when I haven't eaten",
    "昨晚喝多了，今天头疼",
    "可能是食物中毒，拉了两次肚子",
    "蔬菜上的农药残留怎么洗干净",
    "I had a bit too much wine last night",
    "打球扭了脚踝，有点肿",
    "撞到桌角，腿上青了一块",
    "I stubbed my toe",
    "手指被烫了一下，有点红",
    "做饭被油溅到手背，起了个小泡",
    "晒伤了，背上红红的",
    "sunburn on my shoulders",
    "my tongue got burnt by hot coffee",
    "it burns when I pee",
    "怀孕10周，孕吐很厉害",
    "怀孕了，可以喝咖啡吗",
    "I'm pregnant, is it safe to eat cheese?",
    "I'm pregnant and had a blood test today",
    "孕36周，脚有点肿",
    "月经推迟两周，小腹坠痛",
    "my period is a week late, no other symptoms",
    "痛经，小肚子胀痛",
    "period cramps are bad this month",
    "吃多了，肚子有点胀",
    "a mild stomach ache after lunch",
    "我头痛三天了",
    "I have a mild headache",
    "外面40度，热得不想出门",
    "用40度的水泡脚可以吗",
    "跑步时心率160",
    "拉肚子一天拉了20多次，有点头晕",
    "我两个月前做了手术，现在有点低烧",
    "my smartwatch showed 45 bpm while I was asleep",
    "没有不舒服，想咨询一下体检报告",
    # A disease named as history or in a general question is not an emergency now.
    "我爸去年心梗过，现在想问饮食要注意什么",
    "中风有什么早期症状",
    "I had a stroke five years ago, what should I eat?",
    "how do I know if I'm having a heart attack?",
    "I think I have food poisoning, diarrhoea since last night",
    "宫外孕手术后多久可以再怀孕",
]


def codes(text: str, age: float | None = None, *, pregnant: bool | None = None) -> list[str]:
    return [flag.code for flag in detect_red_flags(text, age, pregnant=pregnant)]


def is_chinese(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)


def test_every_class_has_three_chinese_and_three_english_cases() -> None:
    assert set(CASES) == {flag.code for flag in red_flags()}
    for code, cases in CASES.items():
        chinese = sum(is_chinese(positive) for positive, _ in cases)
        assert chinese >= 3, code
        assert len(cases) - chinese >= 3, code


@pytest.mark.parametrize(("code", "text"), [(code, p) for code, cases in CASES.items() for p, _ in cases])
def test_each_class_fires(code: str, text: str) -> None:
    assert code in codes(text)


@pytest.mark.parametrize(("code", "text"), [(code, n) for code, cases in CASES.items() for _, n in cases])
def test_its_negated_twin_does_not(code: str, text: str) -> None:
    assert codes(text) == []


@pytest.mark.parametrize("text", NEIGHBOURS)
def test_ordinary_complaints_near_a_class_do_not_fire(text: str) -> None:
    assert codes(text) == []


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("月经推迟两周，突然下腹剧痛，有点头晕", "ectopic_pregnancy"),
        ("被开水烫伤了大半个后背", "severe_burn"),
        ("高烧40度，脖子硬，身上出现紫红色的斑点", "meningitis_sepsis"),
        ("心跳特别快，一分钟180多下，快晕了", "arrhythmia"),
        ("被蛇咬了，腿肿得很厉害", "envenomation"),
        ("我家孩子发烧有41度", "child_high_fever"),
        ("My stool is black and tarry and I feel faint", "gi_bleeding"),
    ],
)
def test_the_misses_reported_in_issue_13_fire(text: str, code: str) -> None:
    assert codes(text) == [code]


def test_what_the_dialogue_knows_counts() -> None:
    # Pregnancy known from an earlier turn: "bleeding" alone is then a pregnancy emergency.
    assert codes("今天出血了") == []
    assert codes("今天出血了", pregnant=True) == ["pregnancy_emergency"]
    assert codes("I have a bad headache and blurred vision", pregnant=True) == ["preeclampsia"]
    # False or unknown changes nothing the message says.
    assert codes("怀孕20周，见红了", pregnant=False) == ["pregnancy_emergency"]
    # A known age under 14 makes a 40 °C fever a child's; under three months any fever.
    assert codes("发烧40度") == []
    assert codes("发烧40度", 6) == ["child_high_fever"]
    assert codes("发烧38度", 0.2) == ["infant_fever"]
    # Known facts alone, with nothing said, never fire.
    assert codes("你好", 0.1, pregnant=True) == []


def test_a_named_emergency_now_fires_even_with_a_history_of_it() -> None:
    assert codes("我爸好像心梗了") == ["chest_pain"]
    assert codes("I think he is having a stroke") == ["stroke_signs"]
    # The symptom fires whatever else is said.
    assert codes("以前有过心梗，现在又胸口疼") == ["chest_pain"]


def test_a_more_specific_flag_replaces_the_general_one() -> None:
    # The febrile-convulsion advice covers fits and the high fever: one flag, not three.
    assert codes("孩子发烧40度，突然抽搐了") == ["febrile_convulsion"]
    # A fit without a fever stays a fit.
    assert codes("孩子突然抽搐了") == ["unconscious"]
    # A possible ectopic pregnancy covers the severe abdominal pain.
    assert codes("月经推迟了，肚子疼得受不了") == ["ectopic_pregnancy"]
    assert codes("肚子疼得受不了") == ["severe_abdominal_pain"]


@pytest.mark.parametrize(
    "text", ["孩子发烧40度", "孩子发烧40℃", "孩子体温四十度", "孩子烧到40度多", "my kid has a fever of 104°F"]
)
def test_a_temperature_is_read_in_every_common_form(text: str) -> None:
    assert codes(text) == ["child_high_fever"]


def test_a_temperature_under_the_threshold_does_not_count() -> None:
    assert codes("孩子烧到39度8") == []  # 39.8 °C is under the 40 °C of very_high_fever
    assert codes("my kid has a fever of 103") == []


@pytest.mark.parametrize(
    "text",
    [
        "心跳一分钟180多下，快晕了",
        "心率一百八，头晕",
        "heart racing at 180 and I feel faint",
        "180 bpm and dizzy",
    ],
)
def test_a_heart_rate_is_read_in_every_common_form(text: str) -> None:
    assert codes(text) == ["arrhythmia"]


def test_a_fast_but_not_extreme_rate_with_mild_dizziness_is_not_an_arrhythmia_flag() -> None:
    assert codes("心率120，头晕") == []


def test_bleeding_that_keeps_flowing_counts_across_clauses_of_one_sentence() -> None:
    assert codes("孩子鼻子出血，塞了纸巾还是不停地流") == ["heavy_bleeding"]
    assert codes("鼻子出过血。现在眼泪不停地流") == []


def test_a_burn_counts_by_its_extent_and_site_in_the_same_sentence() -> None:
    assert codes("烫伤了手指。整个后背都很酸") == []
    assert codes("烫伤了，面积有巴掌那么大") == ["severe_burn"]
