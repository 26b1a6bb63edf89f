//! The bot's texts (Russian), the same as the aiogram peer's, which took them from
//! `locales/ru`. Placeholders are filled with `str::replace` where a text has one.

pub const WELCOME: &str = "Здравствуйте! Это бот технической поддержки WAVIoT. Здесь можно оставить обращение: бот задаст нужные вопросы, а после отправки вы получите номер обращения.";
pub const MENU_TITLE: &str = "Выберите, с чем нужна помощь:";
pub const MENU_CHOOSE_KIND: &str = "Выберите тип обращения:";
pub const BTN_MENU_BACK: &str = "⬅️ Ко всем типам";
pub const KIND_CHOSEN: &str = "Тип обращения: {kind}";
pub const STEP_COUNTER: &str = "Шаг {step} из {total}";
pub const EXAMPLE_LINE: &str = "Пример: {example}";
pub const STEP_OPTIONAL: &str = "Это необязательный шаг — его можно пропустить.";
pub const BTN_BACK: &str = "⬅️ Назад";
pub const BTN_SKIP: &str = "⏭ Пропустить";
pub const BTN_CANCEL: &str = "✖️ Отменить";
pub const BTN_SKIP_FILES: &str = "⏭ Без файлов";
pub const BTN_DONE_FILES: &str = "✅ Готово ({count})";
pub const BTN_CLEAR_FILES: &str = "🗑 Удалить приложенные";
pub const FILES_LIMITS: &str = "Форматы: JPG, PNG, GIF, BMP. До 10 файлов, каждый до 20 МБ, всего до 50 МБ. Можно отправить альбомом или по одному — как фото или как файл.";
pub const FILE_RECEIVED: &str =
    "Файл «{name}» получен ({count} из 10). Пришлите ещё или нажмите «Готово».";
pub const REVIEW_TITLE: &str = "Проверьте обращение перед отправкой:";
pub const REVIEW_KIND: &str = "Тип: {kind}";
pub const REVIEW_HINT: &str =
    "Всё верно? Нажмите «Отправить». Чтобы исправить поле, нажмите на него.";
pub const BTN_SEND: &str = "📨 Отправить";
pub const BTN_EDIT: &str = "✏️ {field}";
pub const URGENCY_HIGH: &str = "Уровень срочности: высокий (реакция — до 5 рабочих часов).";
pub const SENDING: &str = "Отправляю обращение…";
pub const REGISTERED: &str = "✅ Обращение зарегистрировано, номер {number}.";
pub const REGISTERED_SAVED: &str = "Обращение сохранено. Служба поддержки сейчас недоступна — номер обращения придёт сюда, как только оно будет зарегистрировано.";
pub const CANCELLED: &str = "Обращение отменено. Чтобы начать новое, нажмите /new.";
pub const BTN_OUTDATED: &str = "Эта кнопка уже неактуальна.";
pub const IDLE_HINT: &str = "Чтобы оставить обращение, выберите его тип ниже или нажмите /new.";
pub const HELP: &str = "Бот принимает обращения в техническую поддержку WAVIoT. /new — новое обращение, /cancel — отменить.";
pub const LINK_HOST_UNKNOWN: &str = "Ссылка ведёт на сайт {host}, а он не похож на адрес личного кабинета WAVIoT. Это верная ссылка?";
pub const BTN_HOST_YES: &str = "Да, ссылка верная";
pub const BTN_HOST_NO: &str = "Нет, введу другую";
pub const LINK_SECRET_REMOVED: &str = "В ссылке был ключ доступа (API-ключ или токен). Мы удалили его из ссылки, в заявку он не попадёт. Но ключ уже был отправлен в чат, поэтому, пожалуйста, сгенерируйте новый API-ключ в личном кабинете.";
pub const ERR_TEXT_TOO_SHORT: &str =
    "Слишком коротко: нужно хотя бы {min} символов, а сейчас {len}.";
pub const ERR_TEXT_TOO_LONG: &str =
    "Слишком длинно: можно не больше {max} символов, а сейчас {len}.";
pub const ERR_MODEM_ID_EMPTY: &str = "Пожалуйста, укажите номер (ID) модема.";
pub const ERR_MODEM_ID_FORMAT: &str = "«{value}» не похоже на номер модема. Номер модема — это шестнадцатеричное число (цифры 0–9 и латинские буквы A–F), как в личном кабинете, или десятичное число.";
pub const ERR_MODEM_ID_RANGE: &str = "Номер модема «{value}» вне допустимого диапазона: он должен быть от 1 до FFFFFFFF в шестнадцатеричной записи (до 4294967295 в десятичной).";
pub const ERR_SERIAL_CHARS: &str = "Серийный номер должен состоять только из цифр, а в нём есть символ «{char}». Пробелы и дефисы можно оставить.";
pub const ERR_SERIAL_LENGTH: &str = "В серийном номере должно быть от 5 до 20 цифр, а у вас {len}.";
pub const ERR_LINK_FORMAT: &str = "Не получилось распознать ссылку. Пожалуйста, скопируйте её целиком из адресной строки браузера.";
pub const ERR_LINK_HTTPS: &str = "Ссылка должна начинаться с https://. Пожалуйста, скопируйте её целиком из адресной строки браузера.";
pub const ERR_EMAIL: &str = "Это не похоже на адрес электронной почты. Пожалуйста, проверьте адрес: в нём должны быть «@» и домен с точкой.";
pub const ERR_FILES_EXPECTED: &str = "На этом шаге нужны скриншоты или фото (JPG, PNG, GIF, BMP). Пришлите файл или нажмите кнопку ниже.";
pub const ERR_FILE_FORMAT: &str = "Файл «{name}» не подходит: принимаются только изображения JPG, PNG, GIF и BMP. Сделайте скриншот и пришлите его.";
pub const ERR_FILE_TOO_BIG: &str =
    "Файл «{name}» слишком большой ({size_mb} МБ): бот может принять файл до 20 МБ.";
pub const ERR_FILES_TOTAL: &str = "Общий размер файлов превысил бы 50 МБ. Этот файл не добавлен; нажмите «Готово» или пришлите файл поменьше.";

/// The request groups of the menu: (id, label).
pub const GROUPS: [(&str, &str); 7] = [
    ("outage", "🚨 Сбой сервисов или системы"),
    ("devices", "📟 Устройства и показания"),
    ("base-stations", "📡 Базовые станции"),
    ("access", "🔑 Доступы и API"),
    ("reports", "📊 Отчёты"),
    ("consultation", "☎️ Срочная консультация"),
    ("changes", "🛠 Доработки и нестандартные решения"),
];

/// The kinds of the `devices` group: (id, label).
pub const DEVICE_KINDS: [(&str, &str); 4] = [
    ("device-malfunction", "Неполадка устройства"),
    ("wrong-readings", "Некорректные показания в личном кабинете"),
    (
        "pre-warranty-check",
        "Предгарантийная проверка оборудования",
    ),
    ("modem-setup", "Помощь в настройке модема со счётчиком"),
];

/// The one kind this peer implements.
pub const KIND: &str = "device-malfunction";
/// Its label.
pub const KIND_LABEL: &str = "Неполадка устройства";
