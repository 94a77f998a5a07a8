// Package media reads what a phone needs to show an attachment well, from
// the bytes alone and with the standard library only: the mimetype rules of
// each content kind, image dimensions and a JPEG thumbnail, the duration of
// Ogg/Opus audio and of MP4 video, a voice note's waveform, and WebP
// dimensions for stickers.
//
// What it cannot read, and what happens then:
//
//   - Thumbnails are drawn from JPEG, PNG and GIF (the standard library's
//     decoders). A WebP image gets its dimensions from its header but no
//     thumbnail; any other format gets neither. A video's frames cannot be
//     decoded, so a video has a thumbnail only when the job gives one.
//   - Durations come from containers: Ogg/Opus (the last page's granule
//     position less the pre-skip) and MP4/QuickTime (the movie header,
//     mvhd). Other audio (MP3, AAC, AMR...) and video containers have no
//     duration.
//   - A waveform needs decoded samples, and there is no Opus decoder in the
//     standard library: a voice note's 64-point waveform follows the sizes
//     of its Opus packets over time, which with Opus's variable bit rate
//     rise and fall with the voice. Audio that is not Ogg/Opus gets a flat
//     waveform.
//
// Describe puts it together for one attachment; every function is safe on
// any input (garbage yields "nothing known", never a panic).
package media
