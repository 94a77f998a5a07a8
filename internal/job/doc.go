// Package job is the send job of the contract: the JSON body of a message on
// wa.send.<tenant>, parsed and validated once and shared by the worker, which
// consumes jobs, and the admin API, which publishes them.
//
// Parse decodes and validates a job. Every error it returns is an *Error whose
// Code is one of the contract's failure codes (event.CodeInvalidJob,
// event.CodeInvalidRecipient, ...) and whose JobID is the job's id when the
// id itself was usable, so the caller can emit a failed event; an *Error with
// an empty JobID (malformed JSON, {}, a bad id) can only go to the DLQ.
//
// The rules Parse applies, beyond the contract's wording:
//
//   - id: 1-128 characters of [A-Za-z0-9._:-]; missing or bad is invalid_job.
//   - to: missing or blank is invalid_job; anything given that is not one of
//     the forms below is invalid_recipient.
//     A phone is E.164 with or without the leading "+": after removing the
//     common separators ' ', '-', '(', ')' and '.', it must be 8-15 digits
//     ("+51 (987) 654-321" is +51987654321). Numbers starting with 999 are
//     well formed (the simulator treats them as not on WhatsApp later).
//     A JID is <8-15 digits>@s.whatsapp.net (a user, no device or agent
//     suffix), <digits>[-<digits>]@g.us (a group) or <digits>@lid (a hidden
//     user); the server part is case-insensitive, and the WhatsApp Web form
//     <digits>@c.us is accepted as @s.whatsapp.net.
//     Recipient normalizes either form to a JID and, for users, the digits.
//   - content: text (at least one non-space character, at most MaxTextLen
//     characters) or exactly one content object: document, image, audio,
//     video, sticker (text is the caption), or reaction, edit, revoke,
//     location, contact, poll, read (no text beside them). Two content
//     objects are invalid_job. The v2 objects' rules (content.go), each
//     error naming the field: reaction, edit and revoke name their target
//     message_id like reply_to; an empty emoji removes a reaction, and its
//     sender (a phone or user JID) is only for groups; edit.text is
//     required; latitude -90..90 and longitude -180..180 are both required;
//     a contact is a name and a phone, or a vcard from BEGIN:VCARD to
//     END:VCARD; a poll has a question and 2-12 distinct options
//     (WhatsApp's limits); read has 1-256 message_ids and, in groups only,
//     is required to name their sender. reply_to is not taken beside a
//     reaction, edit, revoke or read.
//   - typing_seconds: 0-25 (a whole number), not beside read.
//   - a media object has exactly one of data and object (an empty string
//     counts as absent). object is a name in the wa-media bucket: at most 255
//     bytes, no control characters. filename, if any, is at most 255 bytes
//     with no control characters. ptt is kept only on audio and cleared
//     elsewhere; thumbnail (a preview image, base64 or a data: URL, at most
//     MaxThumbnailLen bytes) only on video. Parse does not decode data: DecodeData does, with the
//     media_invalid code, and CheckSize applies the media_too_large limits.
//   - reply_to, if not empty: 1-128 characters of [A-Za-z0-9._:-].
//   - not_after, if not empty: RFC 3339; Expired reports whether it passed.
//   - unknown fields are ignored; JSON keys match case-insensitively, as
//     encoding/json does.
//
// MessageID derives the WhatsApp message id of a job from the tenant and the
// job id, so that a retry after a crash mid-send reuses the same id and a
// recipient never sees two copies.
package job
