"""Reference aiogram 3 bot for the intake benchmark (bench/, BENCHMARKS.md).

What a team would otherwise write: aiogram 3, an FSM with a StatesGroup per request kind,
RedisStorage for the FSM, aiohttp for Omnidesk. It implements the device-malfunction intake
with the same steps, validations, texts (Russian) and buttons (callback data) as the Rust
bot, so the same synthetic users drive both:

  /start -> welcome + menu (g:<group> / k:<kind>) -> 10 steps (modem id, meter serial,
  object link, description, steps to reproduce [skip:4], screenshots [skip:5 / done:5],
  e-mail, organization, login, additional info [skip:9]) -> summary (send) -> case number.

The identification (e-mail, organization, login) is remembered per user in Redis, as the
Rust bot does, and skipped on the user's next intake.

Environment: TELOXIDE_TOKEN, TELEGRAM_API_URL, OMNIDESK_URL, OMNIDESK_EMAIL,
OMNIDESK_API_KEY, REDIS_URL, BOT_REDIS_PREFIX.
"""

import asyncio
import html
import json
import logging
import os
import re
from dataclasses import dataclass
from typing import Callable, Optional
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aiohttp
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import Command, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.redis import DefaultKeyBuilder, RedisStorage
from aiogram.types import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from redis.asyncio import BlockingConnectionPool, Redis

DRAFT_TTL = 7 * 24 * 3600

# ---------------------------------------------------------------------------------------
# Texts (from locales/ru)
# ---------------------------------------------------------------------------------------

T = {
    "welcome": "Здравствуйте! Это бот технической поддержки WAVIoT. Здесь можно оставить обращение: бот задаст нужные вопросы, а после отправки вы получите номер обращения.",
    "menu-title": "Выберите, с чем нужна помощь:",
    "menu-choose-kind": "Выберите тип обращения:",
    "btn-menu-back": "⬅️ Ко всем типам",
    "kind-chosen": "Тип обращения: {kind}",
    "step-counter": "Шаг {step} из {total}",
    "example-line": "Пример: {example}",
    "step-optional": "Это необязательный шаг — его можно пропустить.",
    "btn-back": "⬅️ Назад",
    "btn-skip": "⏭ Пропустить",
    "btn-cancel": "✖️ Отменить",
    "btn-skip-files": "⏭ Без файлов",
    "btn-done-files": "✅ Готово ({count})",
    "btn-clear-files": "🗑 Удалить приложенные",
    "files-limits": "Форматы: JPG, PNG, GIF, BMP. До 10 файлов, каждый до 20 МБ, всего до 50 МБ. Можно отправить альбомом или по одному — как фото или как файл.",
    "file-received": "Файл «{name}» получен ({count} из 10). Пришлите ещё или нажмите «Готово».",
    "review-title": "Проверьте обращение перед отправкой:",
    "review-kind": "Тип: {kind}",
    "review-hint": "Всё верно? Нажмите «Отправить». Чтобы исправить поле, нажмите на него.",
    "btn-send": "📨 Отправить",
    "btn-edit": "✏️ {field}",
    "urgency-high": "Уровень срочности: высокий (реакция — до 5 рабочих часов).",
    "sending": "Отправляю обращение…",
    "registered": "✅ Обращение зарегистрировано, номер {number}.",
    "registered-saved": "Обращение сохранено. Служба поддержки сейчас недоступна — номер обращения придёт сюда, как только оно будет зарегистрировано.",
    "cancelled": "Обращение отменено. Чтобы начать новое, нажмите /new.",
    "btn-outdated": "Эта кнопка уже неактуальна.",
    "idle-hint": "Чтобы оставить обращение, выберите его тип ниже или нажмите /new.",
    "help": "Бот принимает обращения в техническую поддержку WAVIoT. /new — новое обращение, /cancel — отменить.",
    "link-host-unknown": "Ссылка ведёт на сайт {host}, а он не похож на адрес личного кабинета WAVIoT. Это верная ссылка?",
    "link-secret-removed": "В ссылке был ключ доступа (API-ключ или токен). Мы удалили его из ссылки, в заявку он не попадёт. Но ключ уже был отправлен в чат, поэтому, пожалуйста, сгенерируйте новый API-ключ в личном кабинете.",
    "err-text-too-short": "Слишком коротко: нужно хотя бы {min} символов, а сейчас {len}.",
    "err-text-too-long": "Слишком длинно: можно не больше {max} символов, а сейчас {len}.",
    "err-modem-id-empty": "Пожалуйста, укажите номер (ID) модема.",
    "err-modem-id-format": "«{value}» не похоже на номер модема. Номер модема — это шестнадцатеричное число (цифры 0–9 и латинские буквы A–F), как в личном кабинете, или десятичное число.",
    "err-modem-id-range": "Номер модема «{value}» вне допустимого диапазона: он должен быть от 1 до FFFFFFFF в шестнадцатеричной записи (до 4294967295 в десятичной).",
    "err-serial-chars": "Серийный номер должен состоять только из цифр, а в нём есть символ «{char}». Пробелы и дефисы можно оставить.",
    "err-serial-length": "В серийном номере должно быть от 5 до 20 цифр, а у вас {len}.",
    "err-link-format": "Не получилось распознать ссылку. Пожалуйста, скопируйте её целиком из адресной строки браузера.",
    "err-link-https": "Ссылка должна начинаться с https://. Пожалуйста, скопируйте её целиком из адресной строки браузера.",
    "err-email": "Это не похоже на адрес электронной почты. Пожалуйста, проверьте адрес: в нём должны быть «@» и домен с точкой.",
    "err-files-expected": "На этом шаге нужны скриншоты или фото (JPG, PNG, GIF, BMP). Пришлите файл или нажмите кнопку ниже.",
    "err-file-format": "Файл «{name}» не подходит: принимаются только изображения JPG, PNG, GIF и BMP. Сделайте скриншот и пришлите его.",
    "err-file-too-big": "Файл «{name}» слишком большой ({size_mb} МБ): бот может принять файл до 20 МБ.",
    "err-files-total": "Общий размер файлов превысил бы 50 МБ. Этот файл не добавлен; нажмите «Готово» или пришлите файл поменьше.",
}

GROUPS = [
    ("outage", "🚨 Сбой сервисов или системы"),
    ("devices", "📟 Устройства и показания"),
    ("base-stations", "📡 Базовые станции"),
    ("access", "🔑 Доступы и API"),
    ("reports", "📊 Отчёты"),
    ("consultation", "☎️ Срочная консультация"),
    ("changes", "🛠 Доработки и нестандартные решения"),
]
DEVICE_KINDS = [
    ("device-malfunction", "Неполадка устройства"),
    ("wrong-readings", "Некорректные показания в личном кабинете"),
    ("pre-warranty-check", "Предгарантийная проверка оборудования"),
    ("modem-setup", "Помощь в настройке модема со счётчиком"),
]
KIND = "device-malfunction"
KIND_LABEL = "Неполадка устройства"
KNOWN_HOSTS = ["lk.waviot.ru", "*.waviot.ru", "*.waviot.com", "lk.curog.ru"]
SECRET_PARAMS = {"key", "api_key", "apikey", "token", "access_token"}
IMAGE_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "bmp": "image/bmp"}
MAX_FILE = 20 * 1024 * 1024
MAX_TOTAL = 50 * 1024 * 1024


class DeviceMalfunction(StatesGroup):
    """The device-malfunction intake, one state per step."""

    modem_id = State()
    meter_serial = State()
    object_link = State()
    description = State()
    steps_to_reproduce = State()
    screenshots = State()
    email = State()
    organization = State()
    login = State()
    additional_info = State()
    confirm_host = State()
    review = State()


# ---------------------------------------------------------------------------------------
# Validation (the same rules as crates/intake-core/src/domain)
# ---------------------------------------------------------------------------------------


class Invalid(Exception):
    """A value that does not fit the step; the message is shown to the user."""


def parse_modem_ids(text: str) -> str:
    tokens = [t for t in re.split(r"[,;\s]+", text.strip()) if t]
    if not tokens:
        raise Invalid(T["err-modem-id-empty"])
    ids = []
    for token in tokens:
        body = token[2:] if token.lower().startswith("0x") else token
        if re.fullmatch(r"[0-9]{9,10}", token):
            value = int(token)
        elif re.fullmatch(r"[0-9A-Fa-f]{1,8}", body):
            value = int(body, 16)
        else:
            raise Invalid(T["err-modem-id-format"].format(value=token))
        if not 0 < value <= 0xFFFFFFFF:
            raise Invalid(T["err-modem-id-range"].format(value=token))
        hex_id = f"{value:X}"
        if hex_id not in ids:
            ids.append(hex_id)
    if len(ids) > 20:
        raise Invalid(T["err-modem-id-format"].format(value=tokens[20]))
    return ", ".join(ids)


def parse_serial(text: str) -> str:
    compact = re.sub(r"[\s\-\u2010-\u2014\u2212]", "", text.strip())
    for ch in compact:
        if not ch.isascii() or not ch.isdigit():
            raise Invalid(T["err-serial-chars"].format(char=ch))
    if not 5 <= len(compact) <= 20:
        raise Invalid(T["err-serial-length"].format(len=len(compact)))
    return compact


def host_known(host: str) -> bool:
    for pattern in KNOWN_HOSTS:
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]):
                return True
        elif host == pattern:
            return True
    return False


def parse_link(text: str) -> tuple[str, bool, bool]:
    """(clean URL, host known, secrets removed)."""
    raw = text.strip()
    if not raw.lower().startswith("https://"):
        if re.match(r"^[a-z]+://", raw, re.I):
            raise Invalid(T["err-link-https"])
        raise Invalid(T["err-link-format"])
    try:
        parts = urlsplit(raw)
    except ValueError as e:
        raise Invalid(T["err-link-format"]) from e
    host = (parts.hostname or "").lower()
    if not host or "." not in host:
        raise Invalid(T["err-link-format"])
    query = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in query if k.lower() not in SECRET_PARAMS]
    clean = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept), ""))
    return clean, host_known(host), len(kept) != len(query)


def parse_email(text: str) -> str:
    value = text.strip()
    m = re.fullmatch(r"([^@\s]+)@([^@\s]+\.[A-Za-z]{2,})", value)
    if not m:
        raise Invalid(T["err-email"])
    return f"{m.group(1)}@{m.group(2).lower()}"


def text_field(lo: int, hi: int) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip()
        n = len(value)
        if n < lo:
            raise Invalid(T["err-text-too-short"].format(min=lo, len=n))
        if n > hi:
            raise Invalid(T["err-text-too-long"].format(max=hi, len=n))
        return value

    return parse


@dataclass(frozen=True)
class Step:
    """One step of the kind."""

    field: str
    label: str
    prompt: str
    example: str
    state: State
    parse: Optional[Callable[[str], str]]
    optional: bool = False
    files: bool = False
    remember: bool = False


PLAN = [
    Step("modem-id", "ID модема (устройства)", "Укажите ID модема — HEX-номер, как в личном кабинете. Если модемов несколько, перечислите через запятую.", "7A48AC или 0x7A48AC, несколько: 7A48AC, 86145D", DeviceMalfunction.modem_id, parse_modem_ids),
    Step("meter-serial", "Серийный номер счётчика", "Укажите серийный номер счётчика (цифры с шильдика или из ЛК).", "012345678901", DeviceMalfunction.meter_serial, parse_serial),
    Step("object-link", "Ссылка на объект", "Скопируйте ссылку на проблемный объект из адресной строки личного кабинета.", "https://lk.waviot.ru/?device=summary&id=195984", DeviceMalfunction.object_link, None),
    Step("description", "Описание проблемы", "Опишите проблему как можно подробнее: что происходит, с какого времени, что уже пробовали.", "«С 20.11 модем не передаёт показания, в ЛК последняя связь 19.11 в 14:00. Питание есть.»", DeviceMalfunction.description, text_field(10, 4000)),
    Step("steps-to-reproduce", "Шаги для воспроизведения", "Перечислите по шагам, что нужно сделать, чтобы проблема повторилась.", "«1. Открыть отчёт «Баланс». 2. Выбрать период за октябрь. 3. Нажать «Выгрузить» — ошибка 500.»", DeviceMalfunction.steps_to_reproduce, text_field(5, 4000), optional=True),
    Step("screenshots", "Скриншоты", "Приложите скриншоты, которые помогут понять проблему.", "снимок экрана с ошибкой (PNG)", DeviceMalfunction.screenshots, None, optional=True, files=True),
    Step("email", "Ваш e-mail", "Укажите ваш e-mail — на него придёт подтверждение с номером обращения.", "name@company.ru", DeviceMalfunction.email, parse_email, remember=True),
    Step("organization", "Организация (клиент)", "Укажите наименование вашей организации (клиента WAVIoT).", "ООО «Водоканал»", DeviceMalfunction.organization, text_field(2, 200), remember=True),
    Step("login", "Логин в личном кабинете", "Укажите ваш логин в личном кабинете WAVIoT.", "ivanov@vodokanal.ru", DeviceMalfunction.login, text_field(2, 100), remember=True),
    Step("additional-info", "Дополнительная информация", "Есть ли ещё что-то, что поможет быстрее решить вопрос?", "«Проблема началась после замены счётчика 15.11.»", DeviceMalfunction.additional_info, text_field(2, 4000), optional=True),
]

# ---------------------------------------------------------------------------------------
# Keyboards and prompts
# ---------------------------------------------------------------------------------------


def btn(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data)


def menu_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[btn(label, f"g:{gid}")] for gid, label in GROUPS])


def asked(data: dict) -> list[int]:
    """Plan indexes still asked (remembered identification is skipped)."""
    prefilled = set(data.get("prefilled", []))
    return [i for i, s in enumerate(PLAN) if s.field not in prefilled]


def step_keyboard(i: int, data: dict) -> InlineKeyboardMarkup:
    step = PLAN[i]
    nav = []
    if any(j < i for j in asked(data)):
        nav.append(btn(T["btn-back"], f"back:{i}"))
    if step.optional and not step.files:
        nav.append(btn(T["btn-skip"], f"skip:{i}"))
    nav.append(btn(T["btn-cancel"], "cancel"))
    rows = []
    if step.files:
        files = data.get("answers", {}).get(step.field) or []
        if files:
            rows.append([btn(T["btn-done-files"].format(count=len(files)), f"done:{i}")])
            rows.append([btn(T["btn-clear-files"], f"clear:{i}")])
        elif step.optional:
            rows.append([btn(T["btn-skip-files"], f"skip:{i}")])
    rows.append(nav)
    return InlineKeyboardMarkup(inline_keyboard=rows)


def prompt_text(i: int, data: dict, error: Optional[str] = None) -> str:
    step = PLAN[i]
    example = T["example-line"].format(example=step.example)
    if error:
        return f"{error}\n\n{example}"
    order = asked(data)
    parts = [T["step-counter"].format(step=order.index(i) + 1, total=len(order)), step.prompt]
    if step.files:
        parts.append(T["files-limits"])
    parts.append(example)
    if step.optional:
        parts.append(T["step-optional"])
    return "\n\n".join(parts)


def display(step: Step, value) -> str:
    if value is None:
        return "—"
    if step.files:
        return f"{len(value)} ({', '.join(f['name'] for f in value)})"
    return str(value)


def review(data: dict) -> tuple[str, InlineKeyboardMarkup]:
    answers = data.get("answers", {})
    parts = [T["review-title"], T["review-kind"].format(kind=KIND_LABEL), T["urgency-high"]]
    edits = []
    for step in PLAN:
        parts.append(f"{step.label}: {display(step, answers.get(step.field))[:500]}")
        edits.append(btn(T["btn-edit"].format(field=step.label), f"edit:{step.field}"))
    parts.append(T["review-hint"])
    rows = [[btn(T["btn-send"], "send")]]
    rows += [edits[k : k + 2] for k in range(0, len(edits), 2)]
    rows.append([btn(T["btn-cancel"], "cancel")])
    return "\n\n".join(parts), InlineKeyboardMarkup(inline_keyboard=rows)


# ---------------------------------------------------------------------------------------
# Handlers
# ---------------------------------------------------------------------------------------

router = Router()


class App:
    """Shared clients."""

    redis: Redis
    prefix: str
    http: aiohttp.ClientSession
    omnidesk_url: str
    auth: aiohttp.BasicAuth


app = App()


async def ask(bot: Bot, chat_id: int, state: FSMContext, i: int, data: dict) -> None:
    await state.set_state(PLAN[i].state)
    await bot.send_message(chat_id, prompt_text(i, data), reply_markup=step_keyboard(i, data))


async def advance(bot: Bot, chat_id: int, state: FSMContext, data: dict, i: int) -> None:
    nxt = [j for j in asked(data) if j > i]
    if nxt:
        await ask(bot, chat_id, state, nxt[0], data)
        return
    await state.set_state(DeviceMalfunction.review)
    text, kb = review(data)
    await bot.send_message(chat_id, text, reply_markup=kb)


def current_index(state_name: Optional[str]) -> Optional[int]:
    for i, s in enumerate(PLAN):
        if s.state.state == state_name:
            return i
    return None


@router.message(CommandStart())
@router.message(Command("new"))
async def start(message: Message, state: FSMContext) -> None:
    if message.text and message.text.startswith("/start"):
        await message.answer(T["welcome"])
    await message.answer(T["menu-title"], reply_markup=menu_keyboard())


@router.message(Command("cancel"))
async def cancel_command(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(T["cancelled"])


@router.message(Command("help"))
async def help_command(message: Message) -> None:
    await message.answer(T["help"])


@router.callback_query(F.data == "menu")
async def menu(query: CallbackQuery) -> None:
    await query.message.edit_text(T["menu-title"], reply_markup=menu_keyboard())
    await query.answer()


@router.callback_query(F.data.startswith("g:"))
async def group(query: CallbackQuery) -> None:
    gid = query.data[2:]
    labels = dict(GROUPS)
    if gid not in labels:
        await query.answer(T["btn-outdated"])
        return
    kinds = DEVICE_KINDS if gid == "devices" else []
    rows = [[btn(label, f"k:{kid}")] for kid, label in kinds]
    rows.append([btn(T["btn-menu-back"], "menu")])
    await query.message.edit_text(
        f"{labels[gid]}\n\n{T['menu-choose-kind']}", reply_markup=InlineKeyboardMarkup(inline_keyboard=rows)
    )
    await query.answer()


@router.callback_query(F.data == f"k:{KIND}")
async def choose_kind(query: CallbackQuery, state: FSMContext, bot: Bot) -> None:
    raw = await app.redis.get(f"{app.prefix}profile:{query.from_user.id}")
    saved = json.loads(raw) if raw else {}
    answers = {s.field: saved[s.field] for s in PLAN if s.remember and s.field in saved}
    data = {"kind": KIND, "answers": answers, "prefilled": list(answers)}
    await state.set_data(data)
    await query.message.edit_text(T["kind-chosen"].format(kind=KIND_LABEL))
    await ask(bot, query.message.chat.id, state, asked(data)[0], data)
    await query.answer()


def text_step(i: int):
    async def handler(message: Message, state: FSMContext, bot: Bot) -> None:
        data = await state.get_data()
        step = PLAN[i]
        try:
            if step.field == "object-link":
                value, known, removed = parse_link(message.text)
                if removed:
                    await message.answer(T["link-secret-removed"])
                if not known:
                    data = await state.update_data(pending_link=value)
                    await state.set_state(DeviceMalfunction.confirm_host)
                    host = urlsplit(value).hostname
                    kb = InlineKeyboardMarkup(
                        inline_keyboard=[[btn("Да, ссылка верная", "host-yes"), btn("Нет, введу другую", "host-no")]]
                    )
                    await message.answer(T["link-host-unknown"].format(host=host), reply_markup=kb)
                    return
            else:
                value = step.parse(message.text)
        except Invalid as e:
            await message.answer(prompt_text(i, data, str(e)), reply_markup=step_keyboard(i, data))
            return
        data["answers"][step.field] = value
        await state.set_data(data)
        await advance(bot, message.chat.id, state, data, i)

    return handler


for _i, _step in enumerate(PLAN):
    if not _step.files:
        router.message(_step.state, F.text)(text_step(_i))


@router.message(DeviceMalfunction.screenshots, F.document | F.photo)
async def screenshot(message: Message, state: FSMContext) -> None:
    data = await state.get_data()
    i = PLAN.index(next(s for s in PLAN if s.files))
    step = PLAN[i]
    files = data["answers"].get(step.field) or []
    if message.photo:
        p = message.photo[-1]
        f = {"file_id": p.file_id, "name": f"photo-{len(files) + 1}.jpg", "mime": "image/jpeg", "size": p.file_size or 0}
    else:
        d = message.document
        name = d.file_name or f"file-{len(files) + 1}"
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if ext not in IMAGE_TYPES:
            await message.answer(T["err-file-format"].format(name=name), reply_markup=step_keyboard(i, data))
            return
        f = {"file_id": d.file_id, "name": name, "mime": IMAGE_TYPES[ext], "size": d.file_size or 0}
    if f["size"] > MAX_FILE:
        msg = T["err-file-too-big"].format(name=f["name"], size_mb=-(-f["size"] // (1024 * 1024)))
        await message.answer(msg, reply_markup=step_keyboard(i, data))
        return
    if sum(x["size"] for x in files) + f["size"] > MAX_TOTAL:
        await message.answer(T["err-files-total"], reply_markup=step_keyboard(i, data))
        return
    files.append(f)
    data["answers"][step.field] = files
    await state.set_data(data)
    await message.answer(
        T["file-received"].format(name=f["name"], count=len(files)), reply_markup=step_keyboard(i, data)
    )


@router.message(DeviceMalfunction.screenshots)
async def screenshot_expected(message: Message, state: FSMContext) -> None:
    data = await state.get_data()
    i = current_index(DeviceMalfunction.screenshots.state)
    await message.answer(prompt_text(i, data, T["err-files-expected"]), reply_markup=step_keyboard(i, data))


@router.callback_query(F.data.regexp(r"^(skip|done|back|clear):\d+$"))
async def step_button(query: CallbackQuery, state: FSMContext, bot: Bot) -> None:
    name, arg = query.data.split(":")
    i = int(arg)
    if current_index(await state.get_state()) != i:
        await query.answer(T["btn-outdated"])
        return
    data = await state.get_data()
    step = PLAN[i]
    chat_id = query.message.chat.id
    if name == "skip" and step.optional:
        data["answers"].pop(step.field, None)
        await state.set_data(data)
        await advance(bot, chat_id, state, data, i)
    elif name == "done" and data["answers"].get(step.field):
        await advance(bot, chat_id, state, data, i)
    elif name == "clear":
        data["answers"].pop(step.field, None)
        await state.set_data(data)
        await ask(bot, chat_id, state, i, data)
    elif name == "back":
        prev = [j for j in asked(data) if j < i]
        if prev:
            await ask(bot, chat_id, state, prev[-1], data)
    else:
        await query.answer(T["btn-outdated"])
        return
    await query.answer()


@router.callback_query(DeviceMalfunction.confirm_host, F.data.in_({"host-yes", "host-no"}))
async def confirm_host(query: CallbackQuery, state: FSMContext, bot: Bot) -> None:
    data = await state.get_data()
    i = current_index(DeviceMalfunction.object_link.state)
    await query.message.edit_reply_markup(reply_markup=None)
    if query.data == "host-yes":
        data["answers"][PLAN[i].field] = data.pop("pending_link", None)
        await state.set_data(data)
        await advance(bot, query.message.chat.id, state, data, i)
    else:
        await ask(bot, query.message.chat.id, state, i, data)
    await query.answer()


@router.callback_query(F.data.startswith("edit:"))
async def edit_field(query: CallbackQuery, state: FSMContext, bot: Bot) -> None:
    field = query.data[5:]
    data = await state.get_data()
    index = next((i for i, s in enumerate(PLAN) if s.field == field), None)
    if index is None or await state.get_state() != DeviceMalfunction.review.state:
        await query.answer(T["btn-outdated"])
        return
    await query.message.edit_reply_markup(reply_markup=None)
    await ask(bot, query.message.chat.id, state, index, data)
    await query.answer()


@router.callback_query(F.data == "cancel")
async def cancel_button(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await query.message.answer(T["cancelled"])
    await query.answer()


def case_body(data: dict, user) -> dict:
    answers = data["answers"]
    lines = [f"Тип обращения: {KIND_LABEL}", T["urgency-high"], ""]
    for step in PLAN:
        if step.field in answers:
            lines.append(f"{step.label}: {display(step, answers[step.field])}")
    lines.append("")
    lines.append(f"Отправлено через Telegram-бота: {user.full_name} (Telegram id {user.id})")
    first = str(answers.get("description", "")).splitlines()[0] if answers.get("description") else ""
    return {
        "subject": f"{KIND_LABEL}: {first}"[:255],
        "content": "\n".join(lines),
        "content_html": "<br>\n".join(html.escape(line) for line in lines),
        "user_email": answers.get("email"),
        "user_full_name": user.full_name,
        "priority": "high",
    }


async def create_case(bot: Bot, data: dict, user) -> str:
    case = case_body(data, user)
    url = f"{app.omnidesk_url}/api/cases.json"
    files = [f for f in data["answers"].get("screenshots") or []]
    if not files:
        async with app.http.post(url, json={"case": case}, auth=app.auth) as resp:
            body = await resp.json(content_type=None)
    else:
        form = aiohttp.FormData()
        for k, v in case.items():
            if v is not None:
                form.add_field(f"case[{k}]", str(v))
        for n, f in enumerate(files):
            tg_file = await bot.get_file(f["file_id"])
            content = await bot.download_file(tg_file.file_path)
            form.add_field(f"case[attachments][{n}]", content, filename=f["name"], content_type=f["mime"])
        async with app.http.post(url, data=form, auth=app.auth) as resp:
            body = await resp.json(content_type=None)
    if resp.status >= 300:
        raise RuntimeError(f"Omnidesk answered {resp.status}")
    c = body["case"]
    return str(c.get("case_number") or c["case_id"])


@router.callback_query(DeviceMalfunction.review, F.data == "send")
async def send(query: CallbackQuery, state: FSMContext, bot: Bot) -> None:
    data = await state.get_data()
    user = query.from_user
    chat_id = query.message.chat.id
    answers = data["answers"]
    profile = {s.field: answers[s.field] for s in PLAN if s.remember and s.field in answers}
    await app.redis.set(f"{app.prefix}profile:{user.id}", json.dumps(profile, ensure_ascii=False))
    await state.clear()
    await query.message.edit_reply_markup(reply_markup=None)
    await bot.send_message(chat_id, T["sending"])
    try:
        number = await asyncio.wait_for(create_case(bot, data, user), timeout=20)
    except Exception:  # noqa: BLE001 - the user is told, the request is logged
        logging.exception("delivery failed")
        await bot.send_message(chat_id, T["registered-saved"])
    else:
        await bot.send_message(chat_id, f"{T['registered'].format(number=number)}\n{T['urgency-high']}")
    await query.answer()


@router.callback_query()
async def stale_button(query: CallbackQuery) -> None:
    await query.answer(T["btn-outdated"])


@router.message()
async def idle(message: Message) -> None:
    await message.answer(T["idle-hint"], reply_markup=menu_keyboard())


async def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    prefix = os.environ.get("BOT_REDIS_PREFIX", "aiogram-bot:")
    app.prefix = prefix
    # A blocking pool: under load, handlers wait for a connection instead of failing with
    # "Too many connections" (the default pool's behaviour).
    app.redis = Redis(connection_pool=BlockingConnectionPool.from_url(os.environ["REDIS_URL"], max_connections=64, timeout=30))
    app.omnidesk_url = os.environ["OMNIDESK_URL"].rstrip("/")
    app.auth = aiohttp.BasicAuth(os.environ["OMNIDESK_EMAIL"], os.environ["OMNIDESK_API_KEY"])
    app.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
    storage = RedisStorage(
        redis=app.redis,
        key_builder=DefaultKeyBuilder(prefix=prefix.rstrip(":") + ":fsm"),
        state_ttl=DRAFT_TTL,
        data_ttl=DRAFT_TTL,
    )
    api = os.environ.get("TELEGRAM_API_URL")
    session = AiohttpSession(api=TelegramAPIServer.from_base(api)) if api else AiohttpSession()
    bot = Bot(os.environ["TELOXIDE_TOKEN"], session=session)
    dp = Dispatcher(storage=storage)
    dp.include_router(router)
    await bot.set_my_commands(
        [BotCommand(command=c, description=d) for c, d in [("start", "Начать"), ("new", "Новое обращение"), ("cancel", "Отменить"), ("help", "Помощь")]]
    )
    try:
        await dp.start_polling(bot, polling_timeout=1, allowed_updates=["message", "callback_query"])
    finally:
        await app.http.close()
        await app.redis.aclose()


if __name__ == "__main__":
    asyncio.run(main())
