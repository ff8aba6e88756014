"""A templated-events corpus, generated: many companies written into the same few templates.

Exchange flashes, meeting notices, dividend and earnings wires, rating changes and 年初来高値 items
are one sentence filled in per company, so text similarity alone puts different companies into one
story. Every `Event` here is its own story; `updates` must join their event, `translations` must
join across languages. `watchlists()` gives each company its own watchlist (its watcher), so a
story merged into another company's loses an alert that `score` counts.

All text is written here for the tests; the figures of the translation pair about the
Microsoft/Amazon/OpenAI dispute are those of the shared corpus's seed article.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Company:
    """A listed company: its id, names in zh/ja/en, code as written on its home market."""

    id: str
    zh: str
    ja: str
    en: str
    code: str
    market: str  # CN, JP, US
    ticker: str


COMPANIES = [
    Company("moutai", "贵州茅台", "貴州茅台酒", "Kweichow Moutai", "600519", "CN", "600519.SH"),
    Company("wuliangye", "五粮液", "五糧液", "Wuliangye Yibin", "000858", "CN", "000858.SZ"),
    Company("catl", "宁德时代", "寧徳時代", "CATL", "300750", "CN", "300750.SZ"),
    Company("byd", "比亚迪", "比亜迪", "BYD", "002594", "CN", "002594.SZ"),
    Company("pingan", "中国平安", "中国平安保険", "Ping An Insurance", "601318", "CN", "601318.SH"),
    Company("cmb", "招商银行", "招商銀行", "China Merchants Bank", "600036", "CN", "600036.SH"),
    Company("toyota", "丰田汽车", "トヨタ自動車", "Toyota Motor", "7203", "JP", "7203.T"),
    Company("sony", "索尼集团", "ソニーグループ", "Sony Group", "6758", "JP", "6758.T"),
    Company("nintendo", "任天堂", "任天堂", "Nintendo", "7974", "JP", "7974.T"),
    Company("softbank", "软银集团", "ソフトバンクグループ", "SoftBank Group", "9984", "JP", "9984.T"),
    Company("mufg", "三菱日联金融集团", "三菱UFJフィナンシャル・グループ", "Mitsubishi UFJ Financial", "8306", "JP",
            "8306.T"),
    Company("microsoft", "微软", "マイクロソフト", "Microsoft", "MSFT", "US", "MSFT"),
    Company("apple", "苹果公司", "アップル", "Apple", "AAPL", "US", "AAPL"),
    Company("jpmorgan", "摩根大通", "JPモルガン", "JPMorgan Chase", "JPM", "US", "JPM"),
    Company("nvidia", "英伟达", "エヌビディア", "NVIDIA", "NVDA", "US", "NVDA"),
    Company("alphabet", "谷歌母公司Alphabet", "アルファベット", "Alphabet", "GOOGL", "US", "GOOGL"),
    Company("amazon", "亚马逊", "アマゾン", "Amazon", "AMZN", "US", "AMZN"),
]
BY_ID = {c.id: c for c in COMPANIES}
OPENAI = Company("openai", "OpenAI", "OpenAI", "OpenAI", "", "", "")
BROKERS = ["Morgan Stanley", "Goldman Sachs", "Jefferies", "Bernstein", "Citi"]
AGENDA = ["修订公司章程", "选举独立董事", "2025年度利润分配方案", "回购股份方案", "续聘会计师事务所"]
MONTHS = ["Jan.", "Feb.", "March", "April", "May", "June", "July", "Aug.", "Sept.", "Oct.", "Nov.", "Dec."]


@dataclass
class Piece:
    """One item as a feed carries it."""

    event: str
    feed: str
    guid: str
    title: str
    body: str
    lang: str


@dataclass
class Event:
    """One event: its company (watcher), its items (the first is the original)."""

    id: str
    company: str
    template: str
    pieces: list[Piece] = field(default_factory=list)


def _price(rng: random.Random, low: int, high: int) -> str:
    return f"{rng.uniform(low, high):.2f}".rstrip("0").rstrip(".")


def _limit_up(c: Company, rng: random.Random, n: int) -> tuple[str, str, str]:
    price = _price(rng, 20, 2000)
    sector = rng.choice(["白酒", "新能源", "保险", "银行", "汽车"])
    title = f"{c.zh}（{c.code}.{'SH' if c.code[0] == '6' else 'SZ'}）盘中涨停"
    body = (f"{c.zh}（{c.code}.{'SH' if c.code[0] == '6' else 'SZ'}）盘中涨停，截至发稿报{price}元，"
            f"成交额较前一交易日明显放大。盘面上，{sector}板块整体走强，多只个股跟涨，市场情绪有所回暖。")
    return title, body, price


def _meeting(c: Company, rng: random.Random, n: int) -> tuple[str, str, str]:
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    nth = rng.choice(["一", "二", "三"])
    agenda = rng.choice(AGENDA)
    title = f"{c.zh}：关于召开2026年第{nth}次临时股东大会的通知"
    body = (f"{c.zh}（证券代码：{c.code}）董事会决定于{month}月{day}日召开2026年第{nth}次临时股东大会，"
            f"审议《关于{agenda}的议案》等事项。本次股东大会采用现场投票与网络投票相结合的方式，"
            f"股权登记日为{month}月{max(1, day - 5)}日。")
    return title, body, f"{month}-{day}"


def _dividend(c: Company, rng: random.Random, n: int) -> tuple[str, str, str]:
    dividend = f"{rng.uniform(0.1, 2.5):.2f}"
    pct = rng.randint(3, 15)
    month, day = rng.randrange(12), rng.randint(1, 28)
    title = f"{c.en} raises quarterly dividend to ${dividend} a share"
    body = (f"{c.en} (NASDAQ: {c.code}) said on Tuesday its board approved a quarterly dividend of ${dividend} per "
            f"share, up {pct}% from the previous payout. The dividend is payable on {MONTHS[month]} {day} to "
            f"shareholders of record at the close of business two weeks earlier. The board also reaffirmed its "
            f"share repurchase program.")
    return title, body, dividend


def _earnings(c: Company, rng: random.Random, n: int) -> tuple[str, str, str]:
    revenue = f"{rng.uniform(10, 120):.1f}"
    pct = f"{rng.uniform(2, 40):.1f}"
    eps = f"{rng.uniform(0.5, 5):.2f}"
    expected = f"{float(revenue) * rng.uniform(0.95, 0.99):.1f}"
    title = f"{c.en} third-quarter revenue rises {pct}% to ${revenue} billion"
    body = (f"{c.en} reported third-quarter revenue of ${revenue} billion on Wednesday, up {pct}% from a year "
            f"earlier, and earnings of ${eps} a share. Analysts on average had expected revenue of ${expected} "
            f"billion. The company said demand stayed strong across its main businesses and it expects growth "
            f"to continue in the fourth quarter.")
    return title, body, revenue


def _rating(c: Company, rng: random.Random, n: int) -> tuple[str, str, str]:
    broker = BROKERS[n % len(BROKERS)]
    target = str(rng.randint(80, 900))
    title = f"{broker} upgrades {c.en} to overweight, sets ${target} price target"
    body = (f"{broker} raised its rating on {c.en} (NASDAQ: {c.code}) to overweight from equal-weight and set a "
            f"price target of ${target}, saying the market underestimates the company's earnings power over the "
            f"next two years. Shares rose in premarket trading after the note was published.")
    return title, body, target


def _high(c: Company, rng: random.Random, n: int) -> tuple[str, str, str]:
    price = f"{rng.randint(800, 9000):,}"
    pct = f"{rng.uniform(1, 6):.1f}"
    title = f"{c.ja}<{c.code}>が年初来高値を更新、{price}円"
    body = (f"{c.ja}<{c.code}>が続伸し、一時{price}円まで上昇して年初来高値を更新した。前日比{pct}%高。"
            f"好調な業績見通しを手掛かりに買いが先行し、東証プライム市場で売買代金上位に入った。")
    return title, body, price


TEMPLATES = {
    "limit-up": (_limit_up, "zh", ["moutai", "wuliangye", "catl", "byd", "pingan", "cmb"]),
    "meeting": (_meeting, "zh", ["moutai", "wuliangye", "catl", "byd", "pingan", "cmb"]),
    "dividend": (_dividend, "en", ["microsoft", "apple", "jpmorgan", "nvidia", "alphabet", "amazon"]),
    "earnings": (_earnings, "en", ["microsoft", "apple", "nvidia", "alphabet", "amazon"]),
    "rating": (_rating, "en", ["apple", "nvidia", "alphabet", "amazon", "jpmorgan"]),
    "ytd-high": (_high, "ja", ["toyota", "sony", "nintendo", "softbank", "mufg"]),
}


def _updates(event: Event, rng: random.Random) -> Iterator[Piece]:
    """Real updates of one event: a marked revision, or the same wire with a paragraph added."""
    first = event.pieces[0]
    c = BY_ID[event.company]
    if event.template == "limit-up":
        close = _price(rng, 20, 2000)
        yield Piece(event.id, "wire-b", f"{first.guid}-u", "（更新）" + first.title,
                    first.body + f"截至收盘，{c.zh}报{close}元，全天成交额创近一个月新高。", "zh")
    elif event.template == "earnings":
        yield Piece(event.id, "wire-b", f"{first.guid}-u", "UPDATE 1-" + first.title,
                    first.body + f" Shares of {c.en} rose {rng.uniform(1, 8):.1f}% in extended trading as "
                    "investors welcomed the outlook and the stronger margins.", "en")
    elif event.template == "dividend":
        yield Piece(event.id, "wire-b", f"{first.guid}-s", first.title.upper(), first.body, "en")


def _translations() -> list[Event]:
    """Copies of one event in zh, ja and en: the seed's figures, and two earnings items."""
    seed = Event("x-seed", "microsoft", "translation")
    seed.pieces = [
        Piece(seed.id, "wire-a", "x-seed-ja", "マイクロソフト、アマゾンとOpenAIの500億ドル提携めぐり法的措置を検討",
              "マイクロソフトは、アマゾンとOpenAIによる約500億ドル規模の提携が同社の独占的な権利を侵すとして、法的措置を"
              "検討している。アマゾンはAWSのクラウドサービスを1380億ドル分購入することも約束した。マイクロソフトは2019年に"
              "OpenAIへ10億ドルを出資し、長くクラウドの独占的な提供者だった。", "ja"),
        Piece(seed.id, "wire-b", "x-seed-zh", "微软拟就亚马逊与OpenAI的500亿美元合作采取法律行动",
              "微软认为亚马逊与OpenAI约500亿美元的合作侵犯了其独家权利，正考虑采取法律行动。亚马逊还承诺从AWS购买1380亿美元"
              "的云服务。微软于2019年向OpenAI投资10亿美元，此后长期担任其独家云服务提供商。", "zh"),
        Piece(seed.id, "wire-c", "x-seed-en", "Microsoft weighs legal action over $50 billion Amazon-OpenAI deal",
              "Microsoft is weighing legal action over the roughly $50 billion partnership between Amazon and OpenAI, "
              "arguing it breaches its exclusive rights. Amazon also agreed to buy $138 billion of cloud services from "
              "AWS. Microsoft invested $1 billion in OpenAI in 2019 and was long its exclusive cloud provider.", "en"),
    ]
    toyota = Event("x-toyota", "toyota", "translation")
    toyota.pieces = [
        Piece(toyota.id, "wire-a", "x-toyota-ja", "トヨタ自動車、上期営業益11.6%増の2兆2380億円",
              "トヨタ自動車<7203>が発表した4～9月期の連結営業利益は前年同期比11.6%増の2兆2380億円だった。通期予想は"
              "4兆円に上方修正した。北米での販売が伸びた。", "ja"),
        Piece(toyota.id, "wire-c", "x-toyota-en", "Toyota first-half operating profit rises 11.6% to 2.238 trillion yen",
              "Toyota Motor (7203.T) said operating profit for April-September rose 11.6% to 2.238 trillion yen and "
              "raised its full-year forecast to 4 trillion yen, helped by higher sales in North America.", "en"),
    ]
    nvidia = Event("x-nvidia", "nvidia", "translation")
    nvidia.pieces = [
        Piece(nvidia.id, "wire-c", "x-nvidia-en", "Nvidia forecasts fourth-quarter revenue of $65 billion, above estimates",
              "Nvidia (NASDAQ: NVDA) forecast fourth-quarter revenue of $65 billion, plus or minus 2%, above "
              "analysts' estimates of $62 billion, after third-quarter revenue rose 62% to $57 billion.", "en"),
        Piece(nvidia.id, "wire-b", "x-nvidia-zh", "英伟达预计第四季度营收650亿美元 超出预期",
              "英伟达（NVDA.O）预计第四季度营收为650亿美元，上下浮动2%，高于分析师预期的620亿美元；第三季度营收增长62%"
              "至570亿美元。", "zh"),
    ]
    return [seed, toyota, nvidia]


def build(seed: int = 2026) -> list[Event]:
    """Every event with its pieces: ≥30 templated events, their updates, and the translation events."""
    rng = random.Random(seed)
    events: list[Event] = []
    for template, (fill, lang, companies) in TEMPLATES.items():
        for n, company in enumerate(companies):
            event = Event(f"{template}-{company}", company, template)
            title, body, _ = fill(BY_ID[company], rng, n)
            event.pieces.append(Piece(event.id, "wire-a", event.id, title, body, lang))
            events.append(event)
    for event in events:
        event.pieces += list(_updates(event, rng))
    return events + _translations()


def pieces(events: list[Event]) -> list[Piece]:
    """All pieces, originals first (in template order, interleaved), then updates and other copies."""
    firsts = [e.pieces[0] for e in events]
    rest = [p for e in events for p in e.pieces[1:]]
    return firsts + rest


def watchlists() -> dict[str, str]:
    """File name → watchlist YAML: one per company (its watcher) and `desk`, which watches them all.

    A desk is alerted once per story: two companies' events merged into one story cost it an alert.
    """
    out = {}
    lines = []
    for c in [*COMPANIES, OPENAI]:
        names = sorted({c.zh, c.ja, c.en})
        tickers = f", tickers: [{c.ticker}]" if c.ticker else ""
        line = f"  - {{id: {c.id}, name: {c.en!r}, aliases: [{', '.join(repr(n) for n in names)}]{tickers}}}\n"
        out[f"{c.id}.yaml"] = f"watchlist: {c.id}\nchannels: [screen]\nentities:\n{line}"
        lines.append(line)
    out["desk.yaml"] = "watchlist: desk\nchannels: [screen]\nentities:\n" + "".join(lines)
    return out


def pairwise(gold: dict[str, str], predicted: dict[str, int]) -> tuple[float, float]:
    """Pairwise story precision and recall: gold guid → event, predicted guid → story."""
    tp = fp = fn = 0
    for a, b in itertools.combinations(sorted(gold), 2):
        same_gold, same_pred = gold[a] == gold[b], predicted[a] == predicted[b]
        tp += same_gold and same_pred
        fp += same_pred and not same_gold
        fn += same_gold and not same_pred
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0)
