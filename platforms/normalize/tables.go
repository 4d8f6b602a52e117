package normalize

// compose returns the precomposed form of base followed by the combining
// mark, if there is one.
func compose(base, mark rune) (rune, bool) {
	c, ok := composeTable[[2]rune{base, mark}]
	return c, ok
}

// iso3166 holds the ISO 3166-1 alpha-2 codes (from the tz database's
// iso3166.tab), each surrounded by spaces.
const iso3166 = " ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bl bm bn bo bq br bs bt bv bw by bz ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm do dz ec ee eg eh er es et fi fj fk fm fo fr ga gb gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy hk hm hn hr ht hu id ie il im in io iq ir is it je jm jo jp ke kg kh ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me mf mg mh mk ml mm mn mo mp mq mr ms mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl pm pn pr ps pt pw py qa re ro rs ru rw sa sb sc sd se sg sh si sj sk sl sm sn so sr ss st sv sx sy sz tc td tf tg th tj tk tl tm tn to tr tt tv tw tz ua ug um us uy uz va vc ve vg vi vn vu wf ws ye yt za zm zw "

// usStates maps a US state, district or territory name (lowercase letters
// only) to its 2-letter USPS/ANSI code.
var usStates = map[string]string{
	"alabama": "al", "alaska": "ak", "arizona": "az", "arkansas": "ar", "california": "ca",
	"colorado": "co", "connecticut": "ct", "delaware": "de", "districtofcolumbia": "dc",
	"florida": "fl", "georgia": "ga", "hawaii": "hi", "idaho": "id", "illinois": "il",
	"indiana": "in", "iowa": "ia", "kansas": "ks", "kentucky": "ky", "louisiana": "la",
	"maine": "me", "maryland": "md", "massachusetts": "ma", "michigan": "mi", "minnesota": "mn",
	"mississippi": "ms", "missouri": "mo", "montana": "mt", "nebraska": "ne", "nevada": "nv",
	"newhampshire": "nh", "newjersey": "nj", "newmexico": "nm", "newyork": "ny",
	"northcarolina": "nc", "northdakota": "nd", "ohio": "oh", "oklahoma": "ok", "oregon": "or",
	"pennsylvania": "pa", "rhodeisland": "ri", "southcarolina": "sc", "southdakota": "sd",
	"tennessee": "tn", "texas": "tx", "utah": "ut", "vermont": "vt", "virginia": "va",
	"washington": "wa", "westvirginia": "wv", "wisconsin": "wi", "wyoming": "wy",
	"americansamoa": "as", "guam": "gu", "northernmarianaislands": "mp", "puertorico": "pr",
	"usvirginislands": "vi", "virginislands": "vi",
}

// countryNames maps a few common country names (English and Spanish,
// lowercase letters only) and ISO 3166-1 alpha-3 codes to alpha-2 codes.
// The list is deliberately short: anything else must be sent as a code.
var countryNames = map[string]string{
	"unitedstates": "us", "unitedstatesofamerica": "us", "usa": "us", "estadosunidos": "us", "eeuu": "us",
	"unitedkingdom": "gb", "greatbritain": "gb", "england": "gb", "gbr": "gb", "reinounido": "gb",
	"spain": "es", "españa": "es", "espana": "es", "esp": "es",
	"france": "fr", "francia": "fr", "fra": "fr",
	"germany": "de", "deutschland": "de", "alemania": "de", "deu": "de",
	"italy": "it", "italia": "it", "ita": "it",
	"portugal": "pt", "prt": "pt",
	"netherlands": "nl", "paísesbajos": "nl", "nld": "nl",
	"belgium": "be", "bélgica": "be", "bel": "be",
	"ireland": "ie", "irlanda": "ie", "irl": "ie",
	"switzerland": "ch", "suiza": "ch", "che": "ch",
	"austria": "at", "aut": "at",
	"sweden": "se", "suecia": "se", "swe": "se",
	"canada": "ca", "canadá": "ca", "can": "ca",
	"mexico": "mx", "méxico": "mx", "mex": "mx",
	"brazil": "br", "brasil": "br", "bra": "br",
	"argentina": "ar", "arg": "ar",
	"colombia": "co", "col": "co",
	"chile": "cl", "chl": "cl",
	"peru": "pe", "perú": "pe", "per": "pe",
	"australia": "au", "aus": "au",
	"india": "in", "ind": "in",
	"japan": "jp", "japón": "jp", "jpn": "jp",
	"china": "cn", "chn": "cn",
}
