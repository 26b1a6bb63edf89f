# Request kinds, menu groups and fields (dialogues/*.toml refer to these ids).

group-outage = 🚨 Services or system down
group-devices = 📟 Devices and readings
group-base-stations = 📡 Base stations
group-access = 🔑 Access and API
group-reports = 📊 Reports
group-consultation = ☎️ Urgent consultation
group-changes = 🛠 Custom development

kind-services-down = WAVIoT services are down
kind-critical-error = Critical system error
kind-device-malfunction = Device malfunction
kind-wrong-readings = Wrong readings in the personal account
kind-pre-warranty-check = Pre-warranty equipment check
kind-modem-setup = Help configuring a modem with a meter
kind-base-station-install = Help installing a base station (I'm on site)
kind-batch-transfer = Batch transfer / base-station setup on the client's server
kind-access-request = Access to services and the personal account
kind-special-access = Non-standard access to resources
kind-api-links = Problems with API links
kind-report-problem = Report export, errors or missing data
kind-consultation-now = Consultation needed now
kind-custom-development = Firmware, report form or interface change

field-description = Description
field-description-prompt = Describe the problem in as much detail as you can: what happens, since when, what you have tried.
field-description-example = "Since 20.11 the modem sends no readings; the last contact in the account is 19.11 at 14:00. Power is on."
prompt-services-down = Describe which services are down and what you see (an error, a blank page), and since when.
prompt-wrong-readings = Describe which readings are wrong: the value in the account, the value on the meter display, the date and tariff.
prompt-custom-development = Describe what you need: firmware, a report form or an interface change, and what for.

field-question = Question
field-question-prompt = State the question you need answered right now.
field-question-example = "How do I switch the modem to frequent transmission during a check?"

field-steps-to-reproduce = Steps to reproduce
field-steps-to-reproduce-prompt = List step by step what to do to make the problem happen again.
field-steps-to-reproduce-example = "1. Open the Balance report. 2. Choose October. 3. Press Export — error 500."

field-comment = Comment
field-comment-prompt = Add a comment to the access request (which rights, for how long).
field-comment-example = "Read-only access until the end of the year."

field-additional-info = Additional information
field-additional-info-prompt = Anything else that would help solve this faster?
field-additional-info-example = "The problem started after the meter was replaced on 15.11."

field-modem-id = Modem (device) ID
field-modem-id-prompt = Enter the modem ID — the HEX number shown in the personal account. For several modems, separate them with commas.
field-modem-id-example = 7A48AC or 0x7A48AC, several: 7A48AC, 86145D

field-meter-serial = Meter serial number
field-meter-serial-prompt = Enter the meter's serial number (digits from the nameplate or the account).
field-meter-serial-example = 012345678901

field-base-station = Base station number
field-base-station-prompt = Enter the base station number.
field-base-station-example = 1234 or 0x4D2
prompt-base-stations = Enter the base station number, or several numbers separated by commas.

field-object-link = Object link
field-object-link-prompt = Copy the link to the object from the address bar of the personal account.
field-object-link-example = https://lk.waviot.ru/?device=summary&id=195984

field-tree-link = Tree element link
field-tree-link-prompt = Copy the link to the tree element that access is needed to.
field-tree-link-example = https://lk.waviot.ru/?id=195984

field-api-link = API link
field-api-link-prompt = Paste the API link that has the problem. The bot removes the key (key=…) itself.
field-api-link-example = https://lk.waviot.ru/api.data/get_values/?modem_id=7A48AC

field-responsible-name = Responsible person's full name
field-responsible-name-prompt = Enter the full name of the person who needs access.
field-responsible-name-example = Ivanov Ivan Ivanovich

field-responsible-email = Responsible person's e-mail
field-responsible-email-prompt = Enter the responsible person's e-mail.
field-responsible-email-example = ivanov@company.ru

field-responsible-phone = Responsible person's phone
field-responsible-phone-prompt = Enter the responsible person's phone (or share a contact).
field-responsible-phone-example = +7 912 345-67-89

field-screenshots = Screenshots
field-screenshots-prompt = Attach screenshots that help to understand the problem.
field-screenshots-example = a screenshot of the error (PNG)
prompt-meter-display-photo = Attach a photo of the meter display with its readings and a screenshot from the account.

field-photos = Photos
field-photos-prompt = Attach photos of the equipment (overall view, nameplate, indicators).
field-photos-example = a photo of the modem nameplate (JPG)

field-location = Location
field-location-prompt = Share your location with the button below or describe the address in text.
field-location-example = Kazan, Baumana st. 1, roof

field-phone = Your phone
field-phone-prompt = Enter a phone number to reach you — press the button below or type it.
field-phone-example = +7 912 345-67-89

field-email = Your e-mail
field-email-prompt = Enter your e-mail — the confirmation with the request number goes there.
field-email-example = name@company.ru

field-organization = Organization (client)
field-organization-prompt = Enter the name of your organization (WAVIoT's client).
field-organization-example = Vodokanal LLC

field-login = Personal account login
field-login-prompt = Enter your login in the WAVIoT personal account.
field-login-example = ivanov@vodokanal.ru
