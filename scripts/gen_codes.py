import re,sys
seed=open(__import__('os').path.join(__import__('os').path.dirname(__file__), '..', '..', 'shared', 'seeds', '002_f1b0cff147d8c1a6.txt'),encoding='utf-8').read()
def section(start,end):
    s=seed.split(start,1)[1].split(end,1)[0]
    rows=[]
    for line in s.splitlines():
        if ' | ' in line and 'Screen Display' not in line:
            parts=[p.strip() for p in line.strip().rstrip('|').split(' | ')]
            rows.append((parts[0],parts[1]))
    return rows
countries=section('Country/Region of Residence','▼ Language')
langs=section('▼ Language','▼ Time Zones')
tzs=section('▼ Time Zones','▼ Date Format')
A2={'Japan':'JP','Iceland':'IS','Ireland':'IE','Azerbaijan':'AZ','Afghanistan':'AF','UnitedArabEmirates':'AE','Algeria':'DZ','Argentina':'AR','Albania':'AL','Armenia':'AM','Angola':'AO','AntiguaAndBarbuda':'AG','Andorra':'AD','Yemen':'YE','Israel':'IL','Italy':'IT','Iraq':'IQ','Iran':'IR','India':'IN','Indonesia':'ID','Uganda':'UG','Ukraine':'UA','Uzbekistan':'UZ','Uruguay':'UY','Ecuador':'EC','Egypt':'EG','Estonia':'EE','Eswatini':'SZ','Ethiopia':'ET','Eritrea':'ER','ElSalvador':'SV','Australia':'AU','Austria':'AT','Oman':'OM','Netherlands':'NL','Ghana':'GH','CaboVerde':'CV','Guyana':'GY','Kazakhstan':'KZ','Qatar':'QA','Canada':'CA','Gabon':'GA','Cameroon':'CM','Gambia':'GM','Cambodia':'KH','Guinea':'GN','GuineaBissau':'GW','Cyprus':'CY','Cuba':'CU','Greece':'GR','Kiribati':'KI','Kyrgyzstan':'KG','Guatemala':'GT','Kuwait':'KW','Grenada':'GD','Croatia':'HR','Kenya':'KE',"CoteD'Ivoire":'CI','CostaRica':'CR','Comoros':'KM','Colombia':'CO','Congo':'CG','DemocraticRepublicOfTheCongo':'CD','SaudiArabia':'SA','Samoa':'WS','SaoTomeAndPrincipe':'ST','Zambia':'ZM','San Marino':'SM','SierraLeone':'SL','Djibouti.':'DJ','Jamaica':'JM','Georgia':'GE','SyrianArabRepublic':'SY','Singapore':'SG','Zimbabwe':'ZW','Switzerland':'CH','Sweden':'SE','Sudan':'SD','Spain':'ES','Suriname':'SR','SriLanka':'LK','Slovakia':'SK','Slovenia':'SI','Seychelles':'SC','Senegal':'SN','Serbia':'RS','SaintKittsAndNevis':'KN','SaintVincentAndTheGrenadines':'VC','Saint Lucia':'LC','Somalia':'SO','SolomonIslands':'SB','Thailand':'TH','Tajikistan':'TJ','UnitedRepublicOfTanzania':'TZ','CzechRepublic':'CZ','Chad':'TD','Tunisia':'TN','Chile':'CL','Tuvalu':'TV','Denmark':'DK','Germany':'DE','Togo':'TG','Dominica':'DM','DominicanRepublic':'DO','TrinidadAndTobago':'TT','Turkmenistan':'TM','Turkey':'TR','Tonga':'TO','Nigeria':'NG','Nauru':'NR','Namibia':'NA','Nicaragua':'NI','Niger':'NE','NewZealand':'NZ','Nepal':'NP','Norway':'NO','Bahrain':'BH','Haiti':'HT','Pakistan':'PK','Panama':'PA','Vanuatu':'VU','Bahamas':'BS','PapuaNewGuinea':'PG','Palau':'PW','Paraguay':'PY','Barbados':'BB','Hungary':'HU','Bangladesh':'BD','Fiji':'FJ','Philippines':'PH','Finland':'FI','Bhutan':'BT','Brazil':'BR','France':'FR','Bulgaria':'BG','BurkinaFaso':'BF','BruneiDarussalam':'BN','Burundi':'BI','VietNam':'VN','Benin':'BJ','Venezuela':'VE','Belarus':'BY','Belize':'BZ','Peru':'PE','Belgium':'BE','Poland':'PL','BosniaAndHerzegovina':'BA','Botswana':'BW','Bolivia':'BO','Portugal':'PT','Honduras':'HN','MarshallIslands':'MH','Macao':'MO','Madagascar':'MG','Malawi':'MW','Mali':'ML','Malta':'MT','Malaysia':'MY','Micronesia':'FM','Myanmar':'MM','Mexico':'MX','Mauritius':'MU','Mauritania':'MR','Mozambique':'MZ','Monaco':'MC','Maldives':'MV','RepublicOfMoldova':'MD','Morocco':'MA','Mongolia':'MN','Montenegro':'ME','Jordan.':'JO',"LaoPeople'sDemocraticRepublic":'LA','Latvia':'LV','Lithuania':'LT','Libya':'LY','Liechtenstein':'LI','Liberia':'LR','Romania':'RO','Luxembourg':'LU','Rwanda':'RW','Lesotho':'LS','Lebanon':'LB','RussianFederation':'RU','UnitedKingdomOfGreatBritainAndNorthernIreland':'GB','RepublicOfKorea':'KR','HongKong':'HK','EquatorialGuinea':'GQ','Taiwan':'TW','CentralAfricanRepublic':'CF','China':'CN',"DemocraticPeople'sRepublicOfKorea":'KP','Timor-Leste':'TL','SouthAfrica':'ZA','SouthSudan':'SS','UnitedStatesOfAmerica':'US','NorthMacedonia':'MK'}
def esc(s): return s.replace('\\','\\\\').replace('"','\\"')
out=['//! Generated from `shared/seeds/002_f1b0cff147d8c1a6.txt` by `scripts/gen_codes.py`; edit the script, not this file.','','use super::{CountryRow, LanguageRow, TimeZoneRow};','']
out.append('/// Every country row of the seed: (display, seed CSV value, clean canonical value, ISO alpha-2).')
out.append('pub(crate) static COUNTRIES: &[CountryRow] = &[')
assert len(countries)==196, len(countries)
for disp,val in countries:
    clean=re.sub(r"[.\s]","",val)
    a2=A2[val]
    out.append(f'    CountryRow {{ display: "{esc(disp)}", seed: "{esc(val)}", canonical: "{esc(clean)}", alpha2: "{a2}" }},')
out.append('];\n')
assert len(langs)==18
out.append('/// The 18 language rows of the seed: (display, seed CSV value, canonical value).')
out.append('pub(crate) static LANGUAGES: &[LanguageRow] = &[')
for disp,val in langs:
    l,r=val.split('_'); canon=l.lower()+'_'+r.upper()
    out.append(f'    LanguageRow {{ display: "{esc(disp)}", seed: "{esc(val)}", canonical: "{canon}" }},')
out.append('];\n')
out.append('/// The time zone rows of the seed: (display, IANA name).')
out.append('pub(crate) static SEED_TIME_ZONES: &[TimeZoneRow] = &[')
for disp,val in tzs:
    out.append(f'    TimeZoneRow {{ display: "{esc(disp)}", iana: "{esc(val)}" }},')
out.append('];')
print('\n'.join(out))
print(len(tzs),file=sys.stderr)
