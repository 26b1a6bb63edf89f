# Request kinds, menu groups and fields (dialogues/*.toml refer to these ids).

group-outage = 🚨 Сбой сервисов или системы
group-devices = 📟 Устройства и показания
group-base-stations = 📡 Базовые станции
group-access = 🔑 Доступы и API
group-reports = 📊 Отчёты
group-consultation = ☎️ Срочная консультация
group-changes = 🛠 Доработки и нестандартные решения

kind-services-down = Сервисы WAVIoT не работают
kind-critical-error = Критическая ошибка системы
kind-device-malfunction = Неполадка устройства
kind-wrong-readings = Некорректные показания в личном кабинете
kind-pre-warranty-check = Предгарантийная проверка оборудования
kind-modem-setup = Помощь в настройке модема со счётчиком
kind-base-station-install = Помощь при установке БС (я на месте)
kind-batch-transfer = Перенос батчей / настройка БС на сервере клиента
kind-access-request = Доступ к сервисам и личному кабинету
kind-special-access = Нестандартный доступ к ресурсам
kind-api-links = Проблемы с API-ссылками
kind-report-problem = Выгрузка отчётов, ошибки или нет данных
kind-consultation-now = Консультация нужна сейчас
kind-custom-development = Прошивка, форма отчёта или изменение интерфейса

field-description = Описание проблемы
field-description-prompt = Опишите проблему как можно подробнее: что происходит, с какого времени, что уже пробовали.
field-description-example = «С 20.11 модем не передаёт показания, в ЛК последняя связь 19.11 в 14:00. Питание есть.»
prompt-services-down = Опишите, какие сервисы не работают и что вы видите (ошибка, пустая страница), с какого времени.
prompt-wrong-readings = Опишите, какие показания неверны: значение в ЛК, значение на дисплее счётчика, дата и тариф.
prompt-custom-development = Опишите, что нужно: прошивка, форма отчёта или изменение интерфейса, и для каких задач.

field-question = Вопрос
field-question-prompt = Сформулируйте вопрос, на который нужен ответ прямо сейчас.
field-question-example = «Как перевести модем в режим частой передачи на время проверки?»

field-steps-to-reproduce = Шаги для воспроизведения
field-steps-to-reproduce-prompt = Перечислите по шагам, что нужно сделать, чтобы проблема повторилась.
field-steps-to-reproduce-example = «1. Открыть отчёт «Баланс». 2. Выбрать период за октябрь. 3. Нажать «Выгрузить» — ошибка 500.»

field-comment = Комментарий
field-comment-prompt = Добавьте комментарий к запросу доступа (какие права нужны, на какой срок).
field-comment-example = «Нужен доступ только на просмотр, до конца года.»

field-additional-info = Дополнительная информация
field-additional-info-prompt = Есть ли ещё что-то, что поможет быстрее решить вопрос?
field-additional-info-example = «Проблема началась после замены счётчика 15.11.»

field-modem-id = ID модема (устройства)
field-modem-id-prompt = Укажите ID модема — HEX-номер, как в личном кабинете. Если модемов несколько, перечислите через запятую.
field-modem-id-example = 7A48AC или 0x7A48AC, несколько: 7A48AC, 86145D

field-meter-serial = Серийный номер счётчика
field-meter-serial-prompt = Укажите серийный номер счётчика (цифры с шильдика или из ЛК).
field-meter-serial-example = 012345678901

field-base-station = Номер базовой станции
field-base-station-prompt = Укажите номер базовой станции.
field-base-station-example = 1234 или 0x4D2
prompt-base-stations = Укажите номер базовой станции или несколько номеров через запятую.

field-object-link = Ссылка на объект
field-object-link-prompt = Скопируйте ссылку на проблемный объект из адресной строки личного кабинета.
field-object-link-example = https://lk.waviot.ru/?device=summary&id=195984

field-tree-link = Ссылка на элемент дерева
field-tree-link-prompt = Скопируйте ссылку на элемент дерева, к которому нужен доступ.
field-tree-link-example = https://lk.waviot.ru/?id=195984

field-api-link = API-ссылка
field-api-link-prompt = Вставьте API-ссылку, с которой возникла проблема. Ключ (key=…) бот удалит сам.
field-api-link-example = https://lk.waviot.ru/api.data/get_values/?modem_id=7A48AC

field-responsible-name = ФИО ответственного
field-responsible-name-prompt = Укажите ФИО ответственного, которому нужен доступ.
field-responsible-name-example = Иванов Иван Иванович

field-responsible-email = E-mail ответственного
field-responsible-email-prompt = Укажите e-mail ответственного.
field-responsible-email-example = ivanov@company.ru

field-responsible-phone = Телефон ответственного
field-responsible-phone-prompt = Укажите контактный телефон ответственного (можно отправить контакт).
field-responsible-phone-example = +7 912 345-67-89

field-screenshots = Скриншоты
field-screenshots-prompt = Приложите скриншоты, которые помогут понять проблему.
field-screenshots-example = снимок экрана с ошибкой (PNG)
prompt-meter-display-photo = Приложите фото дисплея счётчика с показаниями и скриншот из ЛК.

field-photos = Фото
field-photos-prompt = Приложите фото оборудования (общий вид, шильдик, индикаторы).
field-photos-example = фото шильдика модема (JPG)

field-location = Местоположение
field-location-prompt = Отправьте местоположение кнопкой ниже или опишите адрес текстом.
field-location-example = г. Казань, ул. Баумана, 1, крыша

field-phone = Ваш телефон
field-phone-prompt = Укажите номер телефона для связи — нажмите кнопку ниже или введите номер.
field-phone-example = +7 912 345-67-89

field-email = Ваш e-mail
field-email-prompt = Укажите ваш e-mail — на него придёт подтверждение с номером обращения.
field-email-example = name@company.ru

field-organization = Организация (клиент)
field-organization-prompt = Укажите наименование вашей организации (клиента WAVIoT).
field-organization-example = ООО «Водоканал»

field-login = Логин в личном кабинете
field-login-prompt = Укажите ваш логин в личном кабинете WAVIoT.
field-login-example = ivanov@vodokanal.ru
