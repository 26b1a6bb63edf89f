# Field validation messages (crates/intake-core/src/domain).
# The bot appends an example of a correct answer itself.

## Modem ID

err-modem-id-empty = Please enter the modem ID.
err-modem-id-format = “{ $value }” does not look like a modem ID. A modem ID is a hexadecimal number (digits 0–9 and Latin letters A–F), as shown in the personal account, or a decimal number.
err-modem-id-range = The modem ID “{ $value }” is out of range: it must be between 1 and FFFFFFFF in hex (up to 4294967295 in decimal).
err-modem-id-too-many = You can enter at most { $max } modem IDs at a time, but you entered { $count }. Please list the most important ones and mention the rest in the problem description.
modem-id-decimal-converted = Decimal numbers were converted to hex, as the personal account shows them: { $conversions }. If that is not right, please enter the IDs again.
modem-id-unusual-length = A modem ID usually has 6 hex digits, but these have a different length: { $ids }. Please check that they are correct.

## Meter serial number

err-serial-chars = The serial number must contain digits only, but it has “{ $char }”. Spaces and dashes are fine.
err-serial-length = The serial number must have { $min } to { $max } digits, but it has { $len }.

## Base station number

err-base-station-empty = Please enter the base station number.
err-base-station-format = “{ $value }” does not look like a base station number. Enter a decimal number (up to 10 digits) or a hex one (up to 8 digits, the 0x prefix is optional). Separate several numbers with commas.
err-sheet-line = “{ $value }”: expected one station or one modem, e.g. “station,1234”, “modem,7A48AC” or just a station number “1234”.

## Link to an object in the personal account

err-link-format = We could not recognise the link. Please copy it in full from the browser's address bar.
err-link-https = The link must start with https://. Please copy it in full from the browser's address bar.
link-secret-removed = The link contained an access key (API key or token). We removed it from the link, so it will not appear in the request. As the key has already been sent in this chat, please generate a new API key in the personal account.
link-host-unknown = The link points to { $host }, which does not look like a WAVIoT personal account address. Is this the right link?

## Contacts

err-email = This does not look like an e-mail address. Please check it: it needs an “@” and a domain with a dot.
err-phone = We could not recognise the phone number. Please enter a Russian number of 10 digits (8 or +7 in front is fine) or a foreign number in international format starting with “+”.
err-full-name = Please enter your surname and first name (and patronymic, if you like) in full, in letters, separated by spaces. Initials and digits will not do.

## Free text

err-text-empty = Please type your answer as text.
err-text-too-short = That is too short: at least { $min } { $min ->
        [one] character
       *[other] characters
    } are needed, and there are { $len }. Please add some detail.
err-text-too-long = That is too long: at most { $max } { $max ->
        [one] character
       *[other] characters
    } are allowed, and there are { $len }. Please shorten it; details can be attached as a file.
