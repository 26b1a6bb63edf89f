# Interface of the bot (English).

welcome = Hello! This is the WAVIoT technical support bot. Here you can file a support request: the bot asks what is needed, and once it is sent you get the request number.
idle-hint = To file a request, choose its type below or press /new.
menu-title = What do you need help with?
menu-choose-kind = Choose the type of request:
btn-menu-back = ⬅️ All types
kind-chosen = Request type: { $kind }
resume-offer = You have an unfinished request "{ $kind }". Continue it or start over?
btn-resume-step = ▶️ Continue (step { $step } of { $total })
btn-resume-review = ▶️ Continue (review and send)
btn-restart = 🔄 Start over
restarted = The unfinished request was deleted.
object-greeting = { $object ->
    [station] Base station No. { $id }
   *[modem] Modem { $id }
}
object-choose-kind = What happened? Choose the kind of request — the number is already filled in; you can change it before sending.
btn-something-else = Something else
object-draft-offer = You have an unfinished request “{ $kind }”. Continue it or start a new one for { $object ->
    [station] base station No. { $id }
   *[modem] modem { $id }
}?
btn-new-for-object = 🆕 New: { $object ->
    [station] BS { $id }
   *[modem] modem { $id }
}
deep-link-invalid = The link from the sticker was not recognised. Choose the kind of request below and type the number yourself (e.g. station 1234 or modem 7A48AC).
cancelled = The request was cancelled. To start a new one, press /new.
nothing-to-cancel = There is nothing to cancel. To file a request, press /new.
cancel-confirm = Cancel the request? Everything entered will be deleted.
btn-cancel-yes = Yes, cancel
btn-cancel-no = No, continue
draft-reset = The form of this request has changed and it cannot be continued. Sorry! Please start again: /new
state-reset = Your unfinished request could not be restored. Sorry! Please start again: /new

help =
    This bot takes requests to WAVIoT technical support.
    1. Press /new and choose the type of request.
    2. Answer the questions (you can go back or skip optional ones).
    3. Check the summary and press "Send": the bot tells you the request number.
    4. The specialist's replies come to this chat when the bot's channel is connected in Omnidesk (otherwise to your e-mail). To add to a request, press "Reply" under a reply, or reply to the bot's message with the request number.

    Urgency levels and reaction times (working hours, Mon–Fri 9:00–18:00 Moscow time):
    • Critical — within 3 working hours: WAVIoT services down, critical system error, granting access, help installing a base station on site, urgent consultation.
    • High — within 5 working hours: device malfunctions, report exports, wrong readings, batch transfer and base-station setup on the client's server, pre-warranty check.
    • Medium — within 15 working hours: non-standard access, problems with API links, help configuring modems.
    • Low — agreed with the support specialist: custom firmware, custom report forms, interface changes.

    Hotline: 8-800-550-51-89, e-mail: support@waviot.ru
    Commands: /new — new request, /status — my requests, /cancel — cancel, /language — language, /forget — delete my data, /help — help.

    What the bot keeps: your e-mail, organization, login and phone (so as not to ask again) and your language — for a year after you last used the bot; an unfinished draft — 7 days; the numbers and state of your requests (to pass the specialists' replies on) — 180 days. To delete it all at once: /forget.

language-choose = Выберите язык / Choose your language:
language-ru = Русский
language-en = English
language-set = Language: English.

step-counter = Step { $step } of { $total }
editing-field = Editing: { $field }
example-line = Example: { $example }
step-optional = This step is optional — you can skip it.
current-value = Currently
btn-back = ⬅️ Back
btn-skip = ⏭ Skip
btn-cancel = ✖️ Cancel
btn-keep = ✅ Keep as is
btn-share-contact = 📱 Share my number
btn-share-location = 📍 Share location
reply-keyboard-closed = OK.
accepted = Accepted

files-limits = Formats: JPG, PNG, GIF, BMP. Up to { $max_files } files, each up to { $max_mb } MB, { $total_mb } MB in total. Send them as an album or one by one, as photos or as files.
files-so-far = Files attached so far: { $count }.
file-received = File "{ $name }" received ({ $count } of { $max }). Send more or press "Done".
file-duplicate = File "{ $name }" is already attached.
files-cleared = The attached files were removed.
btn-done-files = ✅ Done ({ $count ->
        [one] { $count } file
       *[other] { $count } files
    })
btn-clear-files = 🗑 Remove attached files
btn-skip-files = ⏭ No files

btn-host-yes = Yes, the link is right
btn-host-no = No, I'll enter another

review-title = Check the request before sending:
review-kind = Type: { $kind }
review-hint = All correct? Press "Send". To fix a field, press it.
review-use-buttons = The request is ready to send. Use the buttons under the summary: "Send" or a field to fix.
btn-send = 📨 Send
btn-edit = ✏️ { $field }
already-sent = This request has already been sent.
btn-outdated = This button is no longer valid.

urgency-critical = Urgency: critical (reaction within 3 working hours).
urgency-high = Urgency: high (reaction within 5 working hours).
urgency-medium = Urgency: medium (reaction within 15 working hours).
urgency-low = Urgency: low (the time is agreed with the support specialist).
notice-hotline = If it cannot wait, call the hotline: 8-800-550-51-89.

err-contact-not-own = This is not your contact. Press "Share my number" or type the number.
err-location = The coordinates could not be read. Share the location with the button below or describe the address in text.
err-file-not-here-later = Text is needed here. Files and photos can be attached at a separate step.
err-file-not-here = Text is needed here; this kind of request takes no files.
err-sticker = Stickers don't fit here — please answer in text.
err-voice = Voice and audio messages are not accepted — please type your answer.
err-video = Videos are not accepted — please answer in text.
err-contact-not-here = No contact is needed here — please answer in text.
err-location-not-here = No location is needed here — please answer in text.
err-unsupported = The bot does not understand this kind of message — please answer in text.
err-files-expected = This step takes screenshots or photos (JPG, PNG, GIF, BMP). Send a file or press a button below.
err-files-video = Videos are not accepted: attach screenshots or photos (JPG, PNG, GIF, BMP).
err-files-count = At most { $max } files can be attached. Press "Done" to continue.
err-file-too-big = File "{ $name }" is too big ({ $size_mb } MB): the bot can take files up to { $max_mb } MB. Make it smaller or take a screenshot of part of the screen.
err-files-total = The files would exceed { $total_mb } MB in total. This file was not added; press "Done" or send a smaller file.
err-file-format = File "{ $name }" is not accepted: only JPG, PNG, GIF and BMP images are. Take a screenshot and send it.

sending = Sending the request…
registered = ✅ The request is registered, number { $number }.
registered-saved = The request is saved. Support is unavailable right now — the request number will be sent here as soon as it is registered.
registered-file-missing = ⚠️ The file “{ $name }” could not be fetched from Telegram and is not in the request. Please send it again to support@waviot.ru with the request number.
delivery-rejected = The request could not be registered automatically. It is saved, and a support specialist will contact you. Hotline: 8-800-550-51-89.
group-only-private = Requests are taken in a private chat with the bot: { $link }
temporarily-unavailable = The bot is temporarily unavailable. Please repeat in a minute.
flood-notice = Too many messages in a row — please wait a minute. Everything you have filled in is kept.

cmd-start = Start
cmd-new = New request
cmd-cancel = Cancel the current request
cmd-help = Help and urgency levels
cmd-language = Change language
cmd-forget = Delete my data

urgency-name-critical = critical
urgency-name-high = high
urgency-name-medium = medium
urgency-name-low = low
reaction-due = Urgency: { $level }. Reaction within { $hours } working { $hours ->
        [one] hour
       *[other] hours
    }, by about { $deadline } ({ $zone }).
reaction-hours = Urgency: { $level }. Reaction within { $hours } working { $hours ->
        [one] hour
       *[other] hours
    }.
reaction-agreed = Urgency: { $level }, the time is agreed with the support specialist.

chat-intro = Terminal chat of the WAVIoT support bot. Choose buttons by number; a file: /attach PATH; a phone: /contact NUMBER; a place: /location LAT LON; quit: /quit.
chat-dry-run = Dry run: Omnidesk is not configured, requests are saved to the data/dry-run folder.
chat-dry-run-saved = Dry run: request { $number } was saved in the dry-run folder.
chat-attach-missing = File not found: { $path }

# The case an agent reads (always rendered in Russian; kept here so every locale has every id).
case-kind = Request type: { $kind }
case-sent-by = Sent via the Telegram bot: { $name } (Telegram id { $id }), user's language: { $lang }
case-sent-at = Sent: { $time } UTC. Request id: { $token } ({ $id })
case-files-missing = Not received from Telegram (the file is no longer available): { $names }
zone-moscow = MSK

# QR stickers (waviot-support-bot qr).
sticker-title = { $object ->
    [station] BS { $id }
   *[modem] Modem { $id }
}
sticker-instruction = Point your camera to report a problem
sticker-hotline = 8-800-550-51-89
forget-confirm = Delete everything the bot keeps about you: e-mail, organization, login, phone, language, any unfinished draft and the list of your requests? Requests already sent stay with support, but replies to them will no longer come here.
btn-forget-yes = Yes, delete
btn-forget-no = No, keep
forgotten = Done: your data and draft are deleted. If you write again, the bot will ask for them anew.
forget-kept = All right, nothing was deleted.
send-limit = You have sent many requests in a row. You can send the next one in { $minutes } min. The draft is kept — come back to it later.
send-limit-hotline = If it is urgent, call the hotline: 8-800-550-51-89.
chat-invalid-utf8 = The line is not UTF-8 and was skipped. Example: 7A48AC
status-title = Your latest requests:
status-none = You have not sent any requests through the bot yet. New request: /new
status-line = • No. { $number } — { $kind }, { $date }: { $state }
status-line-waiting = • { $kind }, { $date }: saved, waiting for its number
status-open = open
status-waiting = waiting for your reply
status-closed = closed
status-unknown = state unknown right now
status-chat = The list of requests is available in Telegram; in the terminal chat the number is shown right after sending.
cmd-status = My requests
btn-my-requests = 📋 My requests

agent-reply-header = 💬 Reply to request No. { $number }:
btn-reply = ✍️ Reply
follow-up-prompt = ✍️ Write your addition to request No. { $number } as a reply to this message: text, a photo or a screenshot (JPG, PNG, GIF, BMP).
follow-up-unsupported = You can add text, a photo or a screenshot to the request. For example: "Modem 7A48AC still does not connect".
follow-up-added = 📎 Added to request No. { $number }.
follow-up-closed = Request No. { $number } is closed, and the message was not added to it. If the issue is not solved, press "New request for No. { $number }": the number goes into it by itself.
follow-up-failed = The message could not be added to request No. { $number }. Please write to support@waviot.ru with the request number.
case-closed = ✅ Request No. { $number } is closed. If the issue is not solved, press "New request for No. { $number }": the number goes into it by itself.
case-waiting = ⏳ Support is waiting for your answer on request No. { $number }. Reply to the specialist's message or press "Reply" in /status.
status-replied = { "   " }answered after { $hours } h { $minutes } min — { $verdict }
status-in-time = in time
status-late = late
status-no-deadline = time agreed with the specialist
status-reply-due = { "   " }answer expected by { $deadline }
chat-agent-hint = Try an agent's reply: /agent TEXT, then answer it with the "Reply" button.
chat-agent-no-case = Send a request first: /agent replies to the last one.
chat-agent-usage = Write the reply's text: /agent Please restart the modem.
chat-follow-up-saved = Dry run: the message was written beside request { $number } (file { $number }.messages.jsonl).
follow-up-offer = Add this message to request No. { $number }?
btn-offer-yes = ✅ Yes, add it
btn-offer-no = No, something else
renew-started = 📝 A new request continuing closed No. { $number }. Number { $number } goes into the request by itself.
case-refers-to = Continues request No. { $number }
btn-renew = 📝 New request for No. { $number }
btn-case = 📜 No. { $number }
case-view-title = Request No. { $number }: the latest messages
case-view-empty = No messages yet.
case-view-agent = 💬 Specialist:
case-view-you = 👤 You:
