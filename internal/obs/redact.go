package obs

import "regexp"

// jidPattern finds phone-number and LID user JIDs in text
// ("51987654321@s.whatsapp.net", "51987654321:3@s.whatsapp.net",
// "123456789012345@lid").
var jidPattern = regexp.MustCompile(`(\d{3})(\d+)(\d{2})((?::\d+)?@(?:s\.whatsapp\.net|lid|c\.us))`)

// RedactJIDs keeps the first three and last two digits of every user JID
// in s, so that no phone number reaches the logs in full.
func RedactJIDs(s string) string {
	return jidPattern.ReplaceAllStringFunc(s, func(m string) string {
		g := jidPattern.FindStringSubmatch(m)
		return g[1] + "…" + g[3] + g[4]
	})
}
