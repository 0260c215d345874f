"""The language data of the crisis detector: how risk is written, and what only looks like it.

Everything here is matched against *normalised* text (see ``crisis_detect.normalise``): lower
case, accents removed, apostrophes dropped, everyday contractions and slang expanded to one
canonical spelling (``CANONICAL``: "im" -> "i am", "wanna" -> "want to", "kms" -> "kill
myself", "tmrw" -> "tomorrow", misspellings of "suicide"), letters repeated three or more
times squeezed ("diiie" -> "die"), one sentence at a time.

A ``Rule`` is a small regular expression with the words that can trigger it: the detector
looks a sentence's words up in an index and only runs the rules they trigger, so an ordinary
message costs a few dictionary lookups. Categories follow the Columbia (C-SSRS) ladder and
self-harm practice:

- ``wish_dead``: wish to be dead, not to wake up, not to exist;
- ``suicidal_thoughts``: thinking about suicide or killing oneself (slang included);
- ``method``: a means in a self-directed frame (stockpiled pills, a rope, a bridge, driving
  into something, researching how), or a means word with a time word;
- ``intent_plan``: a plan, a date, "going to" with a time;
- ``preparatory``: letters, giving things away, goodbyes;
- ``self_harm``: cutting, burning, hurting oneself (acts; urges are moderate);
- ``hopelessness``: hopelessness and burden ("better off without me", "no point waking up").

Grades: a rule is ``high`` (acted on or planned), ``moderate`` (thoughts and feelings) or
``weak`` (only counts next to another signal, e.g. "i have a plan" or "doing it tonight").
A moderate finding becomes high when the same sentence carries an intent cue or a time word,
or the message another weak or high signal.
"""

from __future__ import annotations

from typing import NamedTuple

# One token (after apostrophes are dropped) -> its canonical spelling (may be several words).
CANONICAL: dict[str, str] = {
    "im": "i am",
    "ive": "i have",
    "id": "i would",
    "youre": "you are",
    "dont": "do not",
    "doesnt": "does not",
    "didnt": "did not",
    "cant": "can not",
    "cannot": "can not",
    "wont": "will not",
    "wouldnt": "would not",
    "couldnt": "could not",
    "shouldnt": "should not",
    "mustnt": "must not",
    "isnt": "is not",
    "wasnt": "was not",
    "werent": "were not",
    "havent": "have not",
    "theres": "there is",
    "whats": "what is",
    "thats": "that is",
    "its": "it is",
    "everyones": "everyone is",
    "theyd": "they would",
    "theyll": "they will",
    "theyre": "they are",
    "wanna": "want to",
    "gonna": "going to",
    "gotta": "got to",
    "tryna": "trying to",
    "u": "you",
    "ur": "your",
    "tonite": "tonight",
    "2nite": "tonight",
    "2night": "tonight",
    "tn": "tonight",
    "tmrw": "tomorrow",
    "tmr": "tomorrow",
    "tmw": "tomorrow",
    "tomoz": "tomorrow",
    "2moro": "tomorrow",
    "2morrow": "tomorrow",
    "tomorow": "tomorrow",
    "tommorow": "tomorrow",
    "tommorrow": "tomorrow",
    "rn": "right now",
    "2day": "today",
    "kms": "kill myself",
    "sewerslide": "suicide",
    "suicde": "suicide",
    "suacide": "suicide",
    "suiside": "suicide",
    "sucide": "suicide",
    "suecide": "suicide",
    "suicidial": "suicidal",
    "sucidal": "suicidal",
    "suisidal": "suicidal",
    "suicidle": "suicidal",
    "selfharm": "self harm",
    "selfharming": "self harming",
    "selfharmed": "self harmed",
    "selfharms": "self harms",
    "myslef": "myself",
    "mysef": "myself",
    "meself": "myself",
    "overdosing": "overdosing",
    "oding": "overdosing",
    "oded": "overdosed",
}

LEVELS = ("none", "moderate", "high")


class Rule(NamedTuple):
    """``pattern`` (a regex over one normalised sentence) found by any of ``triggers``.

    ``flags``: ``a`` a clear accident in the sentence cancels it ("on the pot, just a
    scratch"); ``p`` talk about the past cancels it ("used to ... years clean"); ``b`` a
    benign context for the means cancels it ("rope for the climbing wall"); ``f`` a return in
    the message cancels a goodbye ("see you tomorrow"); ``t`` it needs a time word in the
    sentence; ``h`` hyperbole, topic talk or a reported question cancels it (every
    moderate rule has it)."""

    category: str
    grade: str  # "high", "moderate" or "weak"
    triggers: str
    pattern: str
    flags: str = ""


# Building blocks.
_NOT = r"(?<!not )(?<!never )(?<!dont )"
_I = r"(?:i|i am|i have|i would|i will|ill|i have been|been|i keep|keep|i just|just|i really|really|honestly i|part of me)"
_DIE = (
    r"(?:die|be dead|not be alive|not be here anymore|not exist|stop existing|cease to exist|"
    r"disappear (?:forever|for good|for ever)|be gone(?! by| before| for the| at| from| in)|sleep (?:and )?never wake up|"
    r"(?:never|not) wake up(?! the| my| him| her| them| anyone| everyone| early| late| in time)|go to sleep forever|sleep forever|"
    r"fall asleep and not wake up)"
)
_SELF_KILL = r"(?:kill|killing|killed|unalive|unaliving|unalived|off|offing|top|topping|hang|hanging) myself"
_END_LIFE = (
    r"(?:(?:end|ending|take|taking) (?:my own|my) life|end it all|ending it all|"
    r"(?:end|ending) (?:things|everything|it)(?! with| between| for| off| on| up| early| at))"
)
_SUICIDE = r"(?:suicide|suicidal|unaliv(?:e|ing|ed)|killing myself|ending (?:my life|it all|it|things))"
_MEANS = r"(?:rope|noose|bridge|roof|rooftop|ledge|tracks|train|cliff|pills|tablets|razor|blade|blades|gun|knife|wrists?)"
_PILLS = r"(?:pills|tablets|meds|medication|medicine|paracetamol|painkillers|sleeping pills|antidepressants|insulin)"
_KIN = r"(?:kids|children|family|mum|mom|mother|dad|father|parents|wife|husband|partner|sister|brother|son|daughter|friends|best friend|girlfriend|boyfriend)"

_EN: tuple[Rule, ...] = (
    # -------------------------------------------------------------- wish to be dead
    Rule("wish_dead", "moderate", "want wanting wish wishing hope pray praying like",
         r"\b" + _NOT + r"(?:want|wanting|wish|wishing|hope|pray|praying|would like) (?:\w+ ){0,3}?(?:to )?(?:just )?" + _DIE + r"\b", "h"),
    Rule("wish_dead", "moderate", "wish wishing hope pray",
         r"\b(?:wish|wishing|hope|pray|praying) (?:that )?i (?:was|were|would|could|will|would just|could just) (?:just )?(?:dead|die|never been born|not wake up|not exist|disappear|not here)", "h"),
    Rule("wish_dead", "moderate", "wish wishing",
         r"\b(?:wish|wishing) i (?:was|were|had) never (?:been )?born\b", "h"),
    Rule("wish_dead", "moderate", "hope pray wish",
         r"\b(?:hope|pray|wish) i (?:do not|will not|never) wake up\b(?! the| my| him| her| them| anyone| everyone| early| late| in time)", "h"),
    Rule("wish_dead", "moderate", "wish hope pray hit kill killed",
         r"\b(?:wish|hope|pray) (?:a |some )?(?:car|bus|truck|lorry|train|someone|something) would (?:just )?(?:hit|kill) me\b|"
         r"\b(?:wish|hope|pray) (?:i get|i got|i would get|to get|i could get) (?:\w+ )?(?:hit|run over|killed)\b", "h"),
    Rule("wish_dead", "moderate", "never woke wake",
         r"\b(?:if i|i could|i would|and) never (?:woke|wake) up(?: again)?\b", "h"),
    Rule("wish_dead", "moderate", "want live alive here exist",
         r"\bdo not want to (?:be alive|live|be here|exist|be around)(?! in| with| near| there| at| on| like this for)(?: \w+){0,2}", "h"),
    Rule("wish_dead", "moderate", "tired sick",
         r"\b(?:tired|sick) of (?:being alive|living|life|existing|being here)\b", "h"),
    Rule("wish_dead", "moderate", "want end wish",
         r"\b(?:wish|want) (?:it|everything|this) (?:would )?(?:all )?(?:to )?(?:just )?(?:end|be over)\b(?! soon| already)|"
         r"\b(?:wish|want) (?:it|everything|this|the pain) (?:would |to )(?:\w+ )?(?:stop|end) (?:forever|for good|permanently)\b", "h"),
    Rule("wish_dead", "moderate", "thinking think thoughts obsessing dying death dead",
         r"\b(?:thinking|think|thoughts|obsessing|dreaming|fantasi[sz]ing) (?:\w+ ){0,2}?(?:about|of) (?:dying|my (?:own )?death|being dead|not being (?:here|alive)|not existing)\b", "h"),
    Rule("wish_dead", "moderate", "deserve alive exist here born dead worth",
         r"\b(?:do not|does not|did not) deserve to (?:live|be alive|be here|exist)\b|\bi deserve to (?:die|be dead)\b|\b(?:life|it) is not worth living\b|\bnot worth living (?:anymore|any more|for me)\b|\bshould not (?:be alive|exist|be here anymore|have been born)\b|\bi should be dead\b", "h"),
    Rule("wish_dead", "moderate", "rather dead",
         r"\b(?:rather|better) be dead\b|\bbetter off dead\b", "h"),
    Rule("wish_dead", "moderate", "disappear",
         r"\b(?:want|wish|wanting) to (?:just )?disappear(?: forever| for good)?\b", "h"),
    # -------------------------------------------------------------- suicidal thoughts
    Rule("suicidal_thoughts", "moderate", "kill killing killed unalive unaliving unalived off offing top topping hang hanging",
         r"\b" + _NOT + _SELF_KILL + r"\b(?! laughing)", "h"),
    Rule("suicidal_thoughts", "moderate", "end ending take taking",
         r"\b" + _NOT + r"(?:want|wanting|wanted|thinking|thought|think|thoughts|considering|consider|contemplating|like|might|could|need|plan|planning|going|ready|time) (?:\w+ ){0,3}?(?:to |about |of |on )?" + _END_LIFE + r"\b", "h"),
    Rule("suicidal_thoughts", "moderate", "end ending take taking",
         r"\b(?:end|ending|take|taking) my (?:own )?life\b|\bend it all\b", "h"),
    Rule("suicidal_thoughts", "moderate", "suicide suicidal unalive unaliving killing ending",
         r"\b(?:think|thinking|thought|thoughts|considering|consider|contemplating|contemplate|planning|obsessing) (?:\w+ ){0,3}?(?:about |of |on )?" + _SUICIDE + r"\b", "h"),
    Rule("suicidal_thoughts", "moderate", "suicidal",
         r"\b(?:i am|i feel|feel|feeling|felt|been|getting|so|very|really|pretty|super|extremely|quite|kinda|been having|having|i have|i get|my) (?:so |very |really |pretty |super |quite |kinda |a bit |feeling )?suicidal\b", "h"),
    Rule("suicidal_thoughts", "moderate", "suicide suicidal",
         r"\bsuicid(?:e|al) (?:thoughts|ideation|feelings|urges|is the only|seems like|keeps|on my mind|crossing my mind|is on my mind|has crossed)", "h"),
    Rule("suicidal_thoughts", "moderate", "suicide",
         r"\b(?:want|going|plan|planning|might|thinking about|considering|ready) (?:to )?commit suicide\b", "h"),
    Rule("suicidal_thoughts", "moderate", "suicide suicidal",
         r"\b(?:^|i )(?:am|feel) suicidal\b|\bi am suicidal\b", "h"),
    # -------------------------------------------------------------- method or means
    Rule("method", "high", "saving saved save stockpiling stockpiled stockpile hoarding hoarded collecting collected gathering stashing stashed hiding hidden secretly",
         r"\b(?:saving|saved|save|stockpiling|stockpiled|stockpile|hoarding|hoarded|collecting|collected|gathering|stashing|stashed|hiding|hidden|secretly keeping) (?:up |away )?(?:\w+ ){0,2}?" + _PILLS + r"\b|\b" + _PILLS + r" (?:saved|stockpiled|hidden|stashed)\b|\bstash of " + _PILLS + r" hidden\b", "b"),
    Rule("method", "high", "enough",
         r"\benough " + _PILLS + r"(?: \w+){0,3} (?:to (?:do it|end it|die|kill|overdose)|saved)\b", ""),
    Rule("method", "high", "many much",
         r"\bhow (?:many|much) (?:\w+ ){0,4}?" + _PILLS + r"(?: \w+){0,3}? (?:would it take|it would take|does it take|it takes|will it take|to (?:die|kill|overdose|od))\b", ""),
    Rule("method", "high", "googled googling looked looking searched searching researching research reading",
         r"\b(?:googled|googling|looked up|looking up|searched|searching|researching|research|reading about) (?:\w+ ){0,3}?(?:how to (?:tie a noose|kill myself|overdose|hang myself|die|end it)|painless ways? (?:to die|of dying)|ways to (?:die|kill myself|end it)|(?:which|what) (?:bridge|building|cliff) is (?:high|tall))", ""),
    Rule("method", "high", "medicine cabinet cupboard",
         r"\b(?:swallow|take|taking|empty|emptying|down) (?:\w+ ){0,3}?(?:medicine|bathroom) (?:cabinet|cupboard)\b", ""),
    Rule("method", "high", "noose",
         r"\bnoose\b", "b"),
    Rule("method", "high", "high tall",
         r"\b(?:bridge|building|cliff|drop|floor|balcony) (?:is |would be )?(?:high|tall) enough\b", ""),
    Rule("method", "high", "jump jumping jumped throw throwing step stepping walk walking drive driving crash crashing lie lying",
         r"\b(?:jump|jumping|jumped|throw myself|throwing myself|step|stepping|walk|walking|drive|driving|crash|crashing|lie|lying) (?:off|from|in front of|into|under|onto|on) (?:a |the |my |this |that )?(?:\w+ )?(?:bridge|roof|rooftop|building|cliff|train|tracks|railway|car|bus|lorry|truck|tree|wall|river|sea|traffic|balcony|window|ledge|overpass|motorway|highway)\b", ""),
    Rule("method", "high", "standing sitting stood am",
         r"\b(?:standing|sitting|stood|i am) (?:on|at) (?:the|a|my|this) (?:roof|rooftop|ledge|edge of the|bridge|tracks|railway|balcony|cliff)\b", ""),
    Rule("method", "high", "took taken take taking swallow swallowed swallowing downed down",
         r"\b(?:took|taken|take|taking|swallow|swallowed|swallowing|downed|down) (?:a |the |my )?(?:whole|entire|full) (?:bottle|box|packet|pack|strip|blister|lot)\b|"
         r"\b(?:took|taken|swallowed|downed) (?:\d{2,}|twenty|thirty|forty|fifty|a (?:load|lot|bunch|handful) of|loads of|lots of) (?:\w+ )?" + _PILLS + r"\b", ""),
    Rule("method", "high", "take taking took swallow swallowing",
         r"\b(?:take|taking|took|swallow|swallowing) (?:all|every one of|the rest of) (?:my|the|of my) (?:pills|tablets|meds|medication|sleeping pills|antidepressants)\b(?! with)", ""),
    Rule("method", "high", "overdosed overdose overdosing od",
         r"\b(?:i|i have|i just|just|i had|i took an?) (?:overdosed|overdose|od)\b|\b(?:going to|want to|will|planning to|thinking about|thinking of) (?:an? )?(?:overdose|overdosing|od)\b", ""),
    Rule("method", "high", "wrist wrists",
         r"\b(?:slit|slitting|cut|cutting|open|opening|thinking about|looking at) (?:my )?wrists?\b", "a"),
    Rule("method", "high", "thinking think looking staring",
         r"\b(?:thinking about|think about|keep looking at|looking at|staring at) (?:the|a|my) (?:bridge|rope|noose|pills|tracks|train|roof|ledge|blade|razor|gun)\b", "tb"),
    Rule("method", "high", "rope noose pills blade razor gun",
         r"\bthe (?:rope|noose|pills|blade|razor|gun|knife)\b", "tb"),
    Rule("method", "high", "rope",
         r"\b(?:bought|buying|got|tied|tying|have) (?:a |the )?rope\b", "b"),
    # -------------------------------------------------------------- intent and plan
    Rule("intent_plan", "high", "going will ill about ready decided",
         r"\b(?:going to|will|ill|about to|ready to|decided to) (?:\w+ )?(?:kill myself|end my life|take my (?:own )?life|end it all|commit suicide|unalive myself)\b", ""),
    Rule("intent_plan", "high", "going will ill am ending",
         r"\b(?:i am|going to|i will|ill) (?:\w+ )?(?:ending|end) it(?: all)?\b(?! with| between| for| off| on| up| early| at)", ""),
    Rule("intent_plan", "high", "know",
         r"\bknow (?:how|when|where) (?:and (?:how|when|where) )?(?:i am |i will |ill )?(?:going to )?(?:do it|end it)\b", ""),
    Rule("intent_plan", "high", "picked set chosen chose choose",
         r"\b(?:picked|set|chosen|chose|choose) (?:a|the) (?:date|day|time) (?:to|for|when|i am going to|i will) (?:\w+ )?(?:end|do it|kill|die|go)\b", ""),
    Rule("intent_plan", "high", "alive earth",
         r"\b(?:my|is my) last (?:night|day|time|week|weekend|hours?) (?:alive|on earth|on this earth|ever)\b", ""),
    Rule("intent_plan", "high", "will be here around alive",
         r"\bwill not be (?:here|around|alive)(?: anymore| any more| any longer| much longer| for long| by| after| tomorrow| next)\b", ""),
    Rule("intent_plan", "high", "planned plan",
         r"\b(?:all planned(?: out)?|planned (?:it|how|when|where)|have a plan (?:to|for how) (?:end|kill|die|do it))\b(?! for the)", ""),
    Rule("intent_plan", "weak", "plan",
         r"\b(?:i have|i have got|i got|got) (?:a|my) plan\b(?! for| to (?:get|go|visit|make|buy|finish|start|see))", ""),
    Rule("intent_plan", "weak", "do doing",
         r"\b(?:going to|will|ill|i am|about to) (?:do|doing) it\b", "t"),
    Rule("intent_plan", "weak", "decided decision mind stop",
         r"\b(?:i have decided|i decided|decided|made (?:up )?my (?:mind|decision)|my mind is made up|nobody can stop me|no one can stop me|will not change my mind)\b", ""),
    # -------------------------------------------------------------- preparatory acts
    Rule("preparatory", "high", "wrote written writing write left leaving finished",
         r"\b(?:wrote|written|writing|write|left|leaving|finished) (?:my|a|the|some)? ?(?:suicide |goodbye |last |final )?(?:notes?|letters?)\b(?: (?:to|for) (?:my )?" + _KIN + r"| just in case| for after| for when| for them)", ""),
    Rule("preparatory", "high", "note notes letter letters",
         r"\b(?:suicide|goodbye|farewell) (?:note|notes|letter|letters)\b|\b(?:wrote|written|writing|finished) my (?:note|notes|letters)\b|\bthe letters\b(?: \w+){0,3} (?:they will|theyll) find\b", "h"),
    Rule("preparatory", "high", "giving gave give given",
         r"\b(?:giving|gave|give|given) (?:away )?(?:all (?:of )?my|my) (?:things|stuff|belongings|possessions|everything)\b|\bgiving (?:away )?everything (?:i own|away)\b|\b(?:giving|gave|give) away all my\b", ""),
    Rule("preparatory", "high", "remember need",
         r"\bsomething to remember me by\b|\b(?:will not|do not) need (?:it|them|any of it|my \w+) (?:anymore|any more|where i am going|after)\b|\bi will not need (?:it|them)\b", ""),
    Rule("preparatory", "high", "gone",
         r"\b(?:when|after|once) i am gone\b(?! for| on| to| away| out| abroad)", ""),
    Rule("preparatory", "high", "goodbye goodbyes bye farewell",
         r"\b(?:goodbye|bye|farewell) (?:forever|for ever|for good|everyone|everybody|all|world|my friends)\b|\bthis is (?:my )?goodbye\b|\b(?:saying|said|say) (?:my )?goodbyes\b|\bsaid goodbye to (?:everyone|everybody|my (?:family|friends|kids|children))\b|\bsorry for everything\b(?: \w+){0,3} goodbye\b|^goodbye$", "f"),
    Rule("preparatory", "high", "hear message post",
         r"\b(?:will not|never) hear from me again\b|\bthis is my (?:last|final) (?:message|post)\b", ""),
    Rule("preparatory", "weak", "will accounts",
         r"\b(?:updated|wrote|made|sorted) my will\b|\bdeleted (?:all )?my accounts\b", ""),
    # -------------------------------------------------------------- self-harm
    Rule("self_harm", "high", "cut cutting cuts burn burning burned burnt hurt hurting harm harming harmed hit hitting scratch scratching scratched punch punching punched carve carving carved bite biting bit",
         r"\b(?:cut|cutting|cuts|burn|burning|burned|burnt|hurt|hurting|harm|harming|harmed|hit|hitting|scratch|scratching|scratched|punch|punching|punched|carve|carving|carved|bite|biting|bit) myself\b", "ap"),
    Rule("self_harm", "high", "self sh",
         r"\b(?:i|i have|i am|been|started|start|starting|keep|kept|did|do|doing|was|relapsed|relapse|relapsing|back to|i have been) (?:on |with |into )?(?:\w+ )?(?:self harm(?:ing|ed|s)?|sh)\b(?! awareness)", "ap"),
    Rule("self_harm", "high", "cutting cut",
         r"\b(?:started|start|starting|been|keep|kept|back to|am|i) (?:\w+ )?cutting (?:again|myself|my)\b|\bcutting again\b|\bcut again\b|\b(?:started|been|keep) cutting\b|\bcut deeper\b", "ap"),
    Rule("self_harm", "high", "cuts cut cutting scars burn burnt burned burning carve carved carving scratched",
         r"\b(?:fresh|new|deep) (?:cuts|scars)\b|\bcovered in (?:fresh |new )?cuts\b|"
         r"\b(?:cut|cutting|burn|burnt|burned|burning|carve|carved|carving|scratched) (?:my|into my|on my) (?:arms?|wrists?|thighs?|legs?|stomach|skin)\b(?! shaving)", "ap"),
    Rule("self_harm", "high", "harming",
         r"\bharming (?:again|myself)\b", "ap"),
    Rule("self_harm", "high", "relapsed relapse relapsing",
         r"\brelaps(?:ed|e|ing)\b", "p"),  # needs a self-harm context word (see detector)
    Rule("self_harm", "high", "bled bleed",
         r"\b(?:until|till|til) (?:it|they|i|my \w+) (?:bled|bleed)\b", "a"),
    Rule("self_harm", "moderate", "urge urges want wanna wanting need cut",
         r"\b(?:urge|urges|want|wanting|need) (?:\w+ ){0,2}?to (?:cut|self harm|sh|hurt myself|harm myself|burn myself)\b(?! \w+ hair| my hair| down| back| the| it| out| off| ties| up| a | in )", "h"),
    # -------------------------------------------------------------- hopelessness and burden
    Rule("hopelessness", "moderate", "better happier easier",
         r"\b(?:better off|happier|easier|better) (?:\w+ )?(?:without me|with me gone|if i (?:was|were|am) (?:gone|dead|not (?:here|around|alive))|if i (?:did not|never) exist(?:ed)?|when i am gone)\b", "h"),
    Rule("hopelessness", "moderate", "burden",
         r"\b(?:i am|i feel like|feel like|such|just|nothing but|only|always|i have become) (?:a |such a |just a |a huge |a massive |the )?burden\b", "h"),
    Rule("hopelessness", "moderate", "relieved miss notice care",
         r"\b(?:relieved|nobody would (?:miss|notice|care)|no one would (?:\w+ )?(?:miss|notice|care)|would not (?:miss|notice)) (?:me )?if i (?:was |were )?(?:gone|disappeared|died|dead|not here)\b|\bnobody would miss me\b|\bno one would miss me\b", "h"),
    Rule("hopelessness", "moderate", "point",
         r"\b(?:no|not see (?:the|any)|lost the|not any) point (?:in |of )?(?:waking up|living|going on|being alive|being here|trying anymore|carrying on|anything anymore|in anything|of living|life)\b|\bwhat is (?:even )?the point (?:of|in) (?:living|life|going on|anything|being alive|waking up|me)\b|\bwhat is the point$", "h"),
    Rule("hopelessness", "moderate", "take handle bear stand",
         r"\bcan not (?:take|handle|bear|stand) (?:it|this|the pain|this pain|this life|living|life|much more|any of this|any of it) (?:anymore|any more|any longer|much longer)\b", "h"),
    Rule("hopelessness", "moderate", "cares care",
         r"\b(?:nobody|no one|noone) (?:\w+ )?(?:cares|care|would care) (?:if|whether) i (?:live|die|am alive|exist|am here)\b", "h"),
    Rule("hopelessness", "moderate", "go keep carry do take",
         r"\bcan not (?:go on|keep going|carry on|do this anymore|do this any more|do it anymore|take it anymore|take this anymore|take any more|keep living|go on living|cope anymore)\b(?! with| at)", "h"),
    Rule("hopelessness", "moderate", "live reason nothing",
         r"\b(?:nothing (?:left )?to live for|no reason to (?:live|keep going|go on|carry on|stay|be alive|wake up))\b", "h"),
    Rule("hopelessness", "moderate", "way",
         r"\bno way out(?: of (?:this|it))?(?: for me|$)", "h"),
    Rule("hopelessness", "moderate", "future",
         r"\b(?:do not|can not|could not) see (?:a|any) future(?: for (?:myself|me))?\b|\bno future for me\b", "h"),
    Rule("hopelessness", "moderate", "hope hopeless",
         r"\bno hope (?:left|for me)\b|\b(?:lost all|given up all|given up) hope\b|\b(?:i feel|feeling|feel|so|completely|totally|utterly) hopeless\b", "h"),
    Rule("hopelessness", "moderate", "give gave given",
         r"\b(?:give|gave|given|giving) up on (?:everything|life|myself|living|getting better)\b", "h"),
    Rule("hopelessness", "moderate", "better change",
         r"\b(?:never|not ever|nothing is ever|nothing will ever) (?:going to )?(?:get|gets|be|change) (?:better|any better)\b|\bnothing is (?:ever )?going to (?:get better|change)\b", "h"),
    Rule("hopelessness", "moderate", "waste",
         r"\bwaste of (?:space|oxygen|air|a life|skin)\b", "h"),
    Rule("hopelessness", "moderate", "done",
         r"\b(?:done with (?:life|living|everything|it all)|done trying|done fighting)\b(?! with| for| over| the| to)", "h"),
)

_DE: tuple[Rule, ...] = (
    Rule("wish_dead", "moderate", "sterben leben aufwachen tot",
         r"\b(?:will|mochte|mochte nur|wurde gern|wurde lieber|will einfach) (?:\w+ ){0,2}?(?:sterben|nicht mehr leben|nicht mehr aufwachen|tot sein)\b|\bwill nicht mehr (?:leben|aufwachen)\b", "h"),
    Rule("suicidal_thoughts", "moderate", "umbringen umzubringen selbstmord suizid suizidgedanken suizidal nehmen toten",
         r"\b(?:mich umbringen|mich umzubringen|mir das leben (?:zu )?nehmen|mich toten|suizidgedanken|suizidal|(?:denke|dachte|gedanken) (?:\w+ ){0,3}?(?:selbstmord|suizid|umbringen|umzubringen))\b", "h"),
    Rule("self_harm", "high", "geritzt ritze ritzen verletzt verletze schneide geschnitten",
         r"\b(?:geritzt|ritze mich|mich (?:\w+ ){0,3}?(?:ritzen|verletzt|geschnitten)|verletze mich|schneide mich)\b", "a"),
    Rule("hopelessness", "moderate", "ohne vermissen",
         r"\b(?:besser|glucklicher) (?:dran )?ohne mich\b|\bniemand (?:\w+ )?mich vermissen\b", "h"),
    Rule("method", "high", "tabletten",
         r"\btabletten (?:\w+ )?(?:gesammelt|gehortet|gespart|versteckt)\b|\b(?:sammle|horte|spare) (?:\w+ )?tabletten\b", ""),
    Rule("preparatory", "high", "abschied abschiedsbrief lebt",
         r"\b(?:mein abschied|abschiedsbrief|abschiedsbriefe|lebt wohl)\b", ""),
    Rule("intent_plan", "weak", "plan",
         r"\b(?:habe|hab) (?:einen|meinen) plan\b", ""),
    Rule("intent_plan", "weak", "mache tun",
         r"\b(?:mache ich es|werde es tun|ich mache es|ich tue es)\b", "t"),
)

_ES: tuple[Rule, ...] = (
    Rule("wish_dead", "moderate", "morir morirme vivir desaparecer despertar muerto muerta",
         r"\b(?:quiero|quisiera|deseo|ojala) (?:\w+ ){0,2}?(?:morir|morirme|desaparecer|no despertar|estar muerto|estar muerta)\b|\bno quiero (?:seguir )?(?:vivir|despertar)\b", "h"),
    Rule("suicidal_thoughts", "moderate", "suicidarme matarme quitarme suicidio",
         r"\b(?:suicidarme|matarme|quitarme la vida|(?:pienso|pensando|pensar|ideas|ganas) (?:\w+ ){0,2}?(?:suicidio|suicidarme|matarme))\b", "h"),
    Rule("self_harm", "high", "cortar corte cortando cortarme autolesion dano lastimo",
         r"\b(?:vuelto a cortar|me corte|me he cortado|me estoy cortando|cortarme|autolesion(?:es|ando)?|me hago dano|me lastimo|hacerme dano)\b", "a"),
    Rule("hopelessness", "moderate", "sin aguanto",
         r"\bmejor sin mi\b|\bno aguanto mas\b", "h"),
    Rule("wish_dead", "moderate", "harta harto cansada cansado acabar terminar",
         r"\b(?:harta|harto|cansada|cansado) de vivir\b|\b(?:acabar|terminar) con (?:todo|mi vida)\b", "h"),
    Rule("method", "high", "guardando guardado juntando acumulando guardo",
         r"\b(?:guardando|guardado|juntando|acumulando|guardo) (?:\w+ )?(?:pastillas|pildoras|medicamentos|medicinas)\b", ""),
    Rule("preparatory", "high", "despedida adios",
         r"\b(?:mi despedida|adios a todos|adios para siempre|carta de despedida)\b", ""),
    Rule("intent_plan", "weak", "plan",
         r"\btengo un plan\b", ""),
    Rule("intent_plan", "weak", "hacer hacerlo",
         r"\b(?:voy a hacerlo|lo voy a hacer|lo hare)\b", "t"),
)

_FR: tuple[Rule, ...] = (
    Rule("wish_dead", "moderate", "mourir vivre disparaitre reveiller",
         r"\b(?:veux|voudrais|envie de|aimerais) (?:\w+ ){0,2}?(?:mourir|disparaitre|plus me reveiller)\b|\b(?:ne veux plus|plus envie de|veux plus) vivre\b", "h"),
    Rule("suicidal_thoughts", "moderate", "tuer suicider suicide finir",
         r"\b(?:me tuer|me suicider|en finir|(?:pense|pensees|idees) (?:\w+ ){0,2}?(?:au suicide|suicidaires|a me tuer))\b", "h"),
    Rule("self_harm", "high", "scarifie scarifiee scarifier coupe coupee couper mal automutilation",
         r"\b(?:scarifiee?|me scarifier|me scarifie|me suis (?:\w+ )?coupee?|me couper|me fais du mal|me faire du mal|automutilation)\b", "a"),
    Rule("hopelessness", "moderate", "sans regretterait remarquerait manquerait",
         r"\bmieux sans moi\b|\bpersonne ne (?:me regretterait|remarquerait|me manquerait)\b", "h"),
    Rule("wish_dead", "moderate", "marre fatigue",
         r"\b(?:marre|fatigue|fatiguee) de vivre\b", "h"),
    Rule("method", "high", "cote stocke accumule garde",
         r"\b(?:mis de cote|stocke|accumule|garde) (?:des |mes )?(?:medicaments|cachets|pilules|comprimes)\b", ""),
    Rule("preparatory", "high", "adieu dernier",
         r"\b(?:adieu a tous|adieu|mon dernier message|lettre d adieu)\b", ""),
    Rule("intent_plan", "weak", "plan",
         r"\b(?:j ai|jai) un plan\b", ""),
    Rule("intent_plan", "weak", "faire",
         r"\b(?:vais le faire|je le ferai)\b", "t"),
)

# The built-in rules per locale. Every enabled locale's rules run on every message (members
# write in more than one language); a community may replace a locale's rules with phrases.
RULES: dict[str, tuple[Rule, ...]] = {"en": _EN, "de": _DE, "es": _ES, "fr": _FR}

# A time word in the same sentence turns a moderate finding (and a weak "do it") into high risk.
TIME = (
    r"\b(?:tonight|today|tomorrow|right now|soon|this (?:weekend|week|evening|morning|afternoon|friday|saturday|sunday|monday|tuesday|wednesday|thursday)|"
    r"(?:on|by|next|this|before) (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|the weekend|morning|christmas|my birthday)|"
    r"after (?:my|the|everyone|work|this|tonight)|at midnight|when everyone is asleep|end of the (?:week|month)|in an hour|"
    r"heute nacht|heute abend|morgen|jetzt|am wochenende|esta noche|hoy|manana|ahora|este fin de semana|ce soir|cette nuit|aujourd hui|aujourdhui|demain|maintenant)\b"
)
# An intent cue in the same sentence turns a moderate finding into high risk.
INTENT = (
    r"\b(?:going to|about to|ready to|decided|i will|ill|planning to|plan to|made up my mind|tonight is the night|"
    r"this is it|no one can stop me|nobody can stop me)\b"
)
# Hyperbole with a trivial cause cancels any moderate finding; laughter alone only cancels a
# wish to be dead ("i want to die lol"), never "kill myself lol" (prefer holding that one).
HYPERBOLE = (
    r"\b(?:of embarrassment|of boredom|of shame|for forgetting|if i have to|one more (?:meeting|day of|minute)|"
    r"so bored|laughing|jk|jking|just kidding)\b"
)
LAUGHTER = r"\b(?:lol|lool|lmao|lmfao|rofl|haha\w*|hehe\w*)\b"
HYPERBOLE_EMOJI = ("😂", "🤣", "💀", "😆", "😅", "🙃")
TOPIC = (
    r"\b(?:awareness|prevention|research|study|studies|article|news|documentary|podcast|webinar|course|training|statistics|rates|"
    r"assembly|book|film|movie|show|episode|chapter|scene|trigger warning|hotline|crisis line|volunteering|charity|fundraising|"
    r"died by suicide|asked (?:me )?if|said no|he is|she is|they are|someone who|people who|anyone who|my friend is|my son is|my daughter is)\b"
)
# Clear accidents: the injury has an everyday cause and nothing says it was meant.
ACCIDENT = (
    r"\b(?:on the|on a|shaving|cooking|chopping|cutting (?:onions|vegetables|bread)|accident|accidentally|by mistake|scratch|plaster|"
    r"bandage|kitchen|oven|kettle|pan|pot|gym|fell|fall|falling|tripped|bike|nothing broken|no big deal|washing up|paper cut|"
    r"beim kochen|in den (?:finger|daumen)|versehentlich|aus versehen|cocinando|sin querer|rasguno|en cuisinant|par accident|rien de grave)\b"
)
NOT_ACCIDENT = r"\b(?:on purpose|deliberately|to feel|urge|urges|relapse|relapsed|clean|blade|razor|deeper|punish|again and again)\b"
PAST = r"\b(?:used to|years ago|years clean|years free|\d+ years|when i was (?:a |younger|at)|as a (?:teen|kid|child|teenager)|in the past|recovered|recovery)\b"
PRESENT = r"\b(?:again|started|last night|today|yesterday|tonight|this week|right now|been|currently|relapsed)\b"
BENIGN_MEANS = r"\b(?:climbing|camping|boat|sailing|skipping|washing line|dog|garden|tent|swing|hammock|pharmacy|prescription|doctor|for migraines|headache)\b"
# A goodbye that promises to come back is not a farewell.
RETURN = (
    r"\b(?:see you|see ya|cya|tomorrow|later|next week|for now|have a|weekend|be back|back (?:on|in|at|next|tomorrow|soon|later)|"
    r"brb|good night|goodnight|night all|for today|in a bit)\b"
)
# Self-harm context a "relapse" needs (in members' words; a relapse of MS is not one).
RELAPSE_CONTEXT = r"\b(?:sh|self harm\w*|cut\w*|blade|razor|burn\w*|days clean|months clean|weeks clean|clean for|streak)\b"

# ---- Issue 29: what crisis services report as the strongest signals, in general terms ----
# (domain knowledge: medication names and quantities, means at hand, a time or occasion,
# preparatory acts, self-harm slang, understatement; English and Spanish alike).

_MEDS = (
    r"(?:pills|tablets|meds|medication|medicine|paracetamol|acetaminophen|tylenol|ibuprofen|aspirin|codeine|tramadol|"
    r"oxycodone|oxy|oxys|fentanyl|morphine|methadone|opioids|opiates|painkillers|sleeping pills|sleepers|zopiclone|zolpidem|"
    r"diazepam|valium|lorazepam|xanax|alprazolam|benzos|clonazepam|antidepressants|sertraline|fluoxetine|citalopram|"
    r"amitriptyline|mirtazapine|quetiapine|seroquel|lithium|insulin|antifreeze|bleach|"
    r"pastillas|pildoras|medicamentos|medicinas|paracetamol|ibuprofeno|tranquilizantes|somniferos|ansioliticos|"
    r"antidepresivos|clonazepam|diazepam|alprazolam|rivotril|tramadol|insulina|lejia|veneno|raticida)"
)
_QUANTITY = r"(?:\d{2,}(?! ?(?:mg|ml|mcg|milligrams|micrograms|units|iu|g|mmol|x)\b)(?!(?: \w+){0,4} (?:every|each|a day|daily|per day|al dia|cada))|a (?:whole |full )?(?:box|bottle|pack|packet|month s|months|strip)|all (?:of )?(?:my|the|her|his)|enough|todas (?:las|mis)|toda la caja|un bote|una caja (?:entera|completa)|suficientes)"
_AT_HAND = (
    r"(?:rope|noose|belt|cord|ladder|bridge|roof|rooftop|ledge|tracks|train|cliff|gun|pistol|shotgun|rifle|bullets|knife|razor|blade|"
    r"car exhaust|hosepipe|charcoal|soga|cuerda|puente|azotea|tejado|vias|pistola|escopeta|arma|cuchillo|navaja|cuchilla|balcon)"
)
_OCCASION = (
    r"(?:tonight|tomorrow|this weekend|friday|saturday|sunday|monday|after (?:work|school|my shift|the funeral|christmas|the holidays|exams)|"
    r"on my birthday|before (?:christmas|my birthday|the end of the month)|when (?:everyone|they|the kids|he|she) (?:is|are) (?:asleep|gone|out|away)|"
    r"once (?:the kids|everyone|they) (?:are|is) (?:asleep|gone|out)|new year|anniversary|"
    r"esta noche|manana|este fin de semana|el viernes|el sabado|el domingo|despues del trabajo|en mi cumpleanos|antes de navidad|"
    r"cuando (?:todos|los ninos|mis hijos|se) (?:\w+ )?(?:duerman|se vayan|salgan|este sola|este solo)|fin de mes)"
)

_EN_29: tuple[Rule, ...] = (
    # Stockpiling or counting a medication, or a quantity of it with a self-directed frame.
    Rule("method", "high", "saving saved stockpiling stockpiled hoarding hoarded collecting collected pocketing pocketed stashing stashed counting counted",
         r"\b(?:saving|saved|stockpiling|stockpiled|hoarding|hoarded|collecting|collected|pocketing|pocketed|stashing|stashed|counting|counted|kept|keeping) (?:up )?(?:\w+ ){0,3}?" + _MEDS + r"\b", "b"),
    Rule("method", "high", "take taking took swallow swallowing down downing neck",
         r"\b(?:take|taking|swallow|swallowing|down|downing|neck) (?:them )?" + _QUANTITY + r" (?:\w+ ){0,2}?" + _MEDS + r"\b(?:(?: \w+){0,6} (?:and|then) (?:not wake|never wake|sleep forever|be done|thats it|that is it|go))?", "bp"),
    Rule("method", "high", "enough",
         r"\benough (?:\w+ ){0,2}?" + _MEDS + r" (?:to|for) (?:do it|end it|not wake|never wake|kill|die|finish|make sure|be sure|do the job)\b", ""),
    # Means at hand with a time or an occasion, in a first-person frame.
    Rule("method", "high", "rope noose belt ladder bridge roof rooftop ledge tracks train cliff gun pistol shotgun rifle bullets knife razor blade hosepipe charcoal",
         r"\b(?:i|i have|i ve|i got|i bought|bought|got|ordered|found|have|keep|kept|hid|hidden|tied|set up|checked|looked up|scouted|picked) (?:\w+ ){0,4}?" + _AT_HAND + r"\b", "tb"),
    Rule("intent_plan", "high", "decided date picked chose set",
         r"\b(?:i (?:have|ve) )?(?:decided|picked|chosen|chose|set) (?:on )?(?:the|a|my) (?:date|day|time|night|place|spot)\b", "h"),
    Rule("intent_plan", "high", "last final",
         r"\b(?:my )?(?:last|final) (?:night|day|message|post|time (?:posting|writing|logging))\b(?: \w+){0,4}? (?:here|alive|on earth|ever|before i go|i will|i am going|goodbye|bye)\b", "f"),
    # Preparatory acts: giving things away, affairs in order, a will, arranging care, notes.
    Rule("preparatory", "high", "giving gave give given away",
         r"\b(?:giving|gave|give|given) (?:away )?(?:all )?(?:my|most of my) (?:\w+ ){0,2}?(?:stuff|things|clothes|games|books|plants|cat|dog|pets?|guitar|console|jewellery|jewelry|belongings)(?: away)?\b", "h"),
    Rule("preparatory", "high", "affairs order will passwords insurance policy rehome rehoming",
         r"\b(?:(?:put|putting|sorted|sorting|getting) (?:my )?affairs in order|(?:wrote|written|writing|made|updated|updating) (?:my|a) will|(?:left|leaving|wrote down|writing down) (?:my )?passwords|life insurance (?:pays|covers|policy)|(?:rehome|rehoming|rehomed|found a home for) (?:my )?(?:cat|dog|pets?))\b", "h"),
    Rule("preparatory", "high", "take care look after",
         r"\b(?:please )?(?:take care|look after) (?:of )?(?:my|mum|mom|dad) (?:\w+ )?(?:for me|when i am gone|after i am gone|once i am gone)\b|\bwhen i am (?:gone|not here|no longer here)\b", ""),
    Rule("preparatory", "high", "wont around anymore here tomorrow",
         r"\b(?:i )?(?:will not|wont) be (?:around|here|alive) (?:\w+ ){0,2}?(?:anymore|any more|much longer|tomorrow|by (?:monday|the weekend|morning)|for long)\b", "h"),
    Rule("preparatory", "high", "thank thanks everyone sorry",
         r"\b(?:thank you|thanks) (?:all |everyone |everybody )?for everything\b(?: \w+){0,8} (?:goodbye|bye|sorry|last|forgive|take care of)\b|\bsorry (?:to|for) (?:everyone|all of you|whoever)\b(?: \w+){0,8} (?:goodbye|bye|finds|reads this|last)\b", ""),
    # Self-harm slang and understatement.
    Rule("self_harm", "high", "sh shd cat scratches barcode barcodes relapsed relapse",
         r"\b(?:relapsed|relapse|sh d|did sh|cat scratches|barcode|barcodes|went deep|too deep|deeper than)\b", "ap"),
    Rule("hopelessness", "moderate", "tired exhausted done finished over",
         r"\b(?:i am|so|just) (?:so |really |just )?(?:tired|exhausted|done|finished) (?:of|with) (?:everything|it all|life|being alive|existing|fighting|trying)\b|\bready to (?:stop|let go|give up|be done)\b|\b(?:want|wants|need) (?:it all )?to (?:stop|end)\b(?: \w+)? (?:for good|forever|permanently)\b", "h"),
    Rule("wish_dead", "moderate", "sleep asleep wake",
         r"\b(?:go to sleep|fall asleep|sleep) (?:and )?(?:never|not) (?:wake|waking)\b|\bsleep forever\b", "h"),
)

_ES_29: tuple[Rule, ...] = (
    Rule("method", "high", "guardando guardado juntando juntado acumulando acumulado escondiendo escondido ahorrando contando",
         r"\b(?:guardando|guardado|juntando|juntado|acumulando|acumulado|escondiendo|escondido|ahorrando|contando|contado) (?:\w+ ){0,3}?" + _MEDS + r"\b", "b"),
    Rule("method", "high", "tomar tomarme tomarmelas tragar tragarme todas caja",
         r"\b(?:tomar(?:me)?(?:las|los)?|tragar(?:me)?(?:las|los)?|me voy a tomar|me tomo|me tome) (?:\w+ ){0,2}?" + _QUANTITY + r"(?: \w+){0,3}?\b", "p"),
    Rule("method", "high", "tengo compre conseguido consegui encontre",
         r"\b(?:tengo|compre|he comprado|consegui|he conseguido|encontre|guardo) (?:\w+ ){0,3}?" + _AT_HAND + r"\b", "tb"),
    Rule("intent_plan", "high", "decidido elegido fecha dia",
         r"\b(?:ya )?(?:lo )?(?:tengo decidido|he decidido|lo decidi|ya decidi|elegi el dia|tengo fecha|tengo la fecha|ya tengo el dia)\b", "h"),
    Rule("preparatory", "high", "regalando regalado regale dejando dejado despedirme despidiendo testamento carta cartas",
         r"\b(?:regalando|regalado|regale|repartiendo|reparti) (?:todas )?(?:mis|mi) (?:\w+ ){0,2}?(?:cosas|ropa|libros|juegos|plantas|gato|perro|mascotas?)\b|"
         r"\b(?:dejando|dejado|deje) (?:todo )?(?:en orden|arreglado|organizado)\b|\b(?:hice|hecho|escribi|escrito|escribiendo) (?:mi|el) testamento\b|"
         r"\b(?:despedirme|me estoy despidiendo|me despido) de (?:todos|todo|ustedes|vosotros|mi familia)\b|\b(?:escribi|escrito|escribiendo|deje) (?:\w+ )?(?:cartas?|notas?) (?:de despedida|para mi|para mis|a mi|a mis)\b", "f"),
    Rule("preparatory", "high", "estare cuiden cuidad",
         r"\b(?:ya )?no (?:voy a estar|estare) (?:aqui|mas|mucho tiempo|manana)\b|\bcuando (?:ya )?no (?:este|estemos)\b|\b(?:cuiden|cuidad|cuida) (?:a|de) (?:mi|mis) (?:\w+ )?(?:por mi|cuando no este)\b", "h"),
    Rule("self_harm", "high", "corte cortes cortado cortarme quemarme quemado queme quemo golpeo recaida recai recaido volvi arano",
         r"\b(?:recai|he recaido|tuve una recaida|me volvi a cortar|volvi a hacerme dano|me queme|me quemo|me golpeo|me araño|me arano|me rasgue|cortes (?:nuevos|profundos|en (?:los brazos|las piernas|el brazo|la pierna)))\b", "ap"),
    Rule("hopelessness", "moderate", "cansado cansada agotado agotada nada sentido",
         r"\b(?:estoy )?(?:muy |tan )?(?:cansad[oa]|agotad[oa]) de (?:todo|luchar|intentarlo|seguir|existir)\b|\bnada tiene sentido\b|\bya no (?:puedo mas|tiene sentido|le veo sentido)\b|\bsoy una carga\b|\bestarian mejor sin mi\b|\bno quiero (?:seguir aqui|estar aqui|existir)\b", "h"),
    Rule("wish_dead", "moderate", "dormir despertar desaparecer",
         r"\b(?:dormir(?:me)? y no despertar|no despertar nunca|dormir para siempre|desaparecer para siempre)\b", "h"),
)

RULES["en"] = RULES["en"] + _EN_29
RULES["es"] = RULES["es"] + _ES_29

# Someone else at risk (third person), a person cue, the member's own risk.
THIRD_PARTY_RISK = (
    r"\b(?:kill|killing|killed|hurt|hurting|cut|cutting|harm|harming|hang|hanging|off|offing|unalive|unaliving) (?:herself|himself|themselves|themself)\b|"
    r"\b(?:she|he|they|her|him|them) (?:\w+ ){0,3}?(?:want|wants|wanted|wanting) to (?:die|be dead|end it|end (?:her|his|their) life|not be here|disappear)\b|"
    r"\b(?:she|he|they|my (?:\w+ )?(?:friend|mate|sister|brother|son|daughter|partner|wife|husband|girlfriend|boyfriend|mum|mom|dad|cousin|flatmate|roommate|colleague|student)) (?:is|are|was|were|has been|have been|keeps|keep|kept) (?:\w+ ){0,2}?(?:suicidal|talking about (?:suicide|dying|killing|ending it|not being here)|saying goodbye|giving (?:her|his|their) (?:\w+ )?away)\b|"
    r"\b(?:her|his|their) (?:suicide|goodbye) (?:note|letter|message|post)\b|"
    r"\b(?:she|he|they) (?:\w+ ){0,2}?(?:took|swallowed|overdosed|od d|has pills|has a (?:rope|gun|knife|plan))\b|"
    r"\b(?:se quiere|quiere|quiso|queria) (?:matar|suicidar|morir)|\b(?:quiere|queria) morirse\b|\b(?:matarse|suicidarse|quitarse la vida|hacerse dano|lastimarse|cortarse)\b|"
    r"\bse (?:corta|cortaba|ha cortado|lastima|hace dano|quiere ir)\b|\bhabla (?:mucho |todo el rato |de nuevo )?de (?:morirse|matarse|suicidarse|desaparecer|la muerte)\b|"
    r"\b(?:esta|anda) (?:regalando|repartiendo) sus cosas\b|\b(?:dice|dijo|me dijo|me escribio|escribio) que (?:ya )?no (?:quiere vivir|aguanta mas|va a estar)\b"
)
THIRD_PARTY_PERSON = (
    r"\b(?:my|our) (?:friend|best friend|bestie|mate|sister|brother|sis|bro|son|daughter|kid|child|mum|mom|mother|dad|father|partner|wife|husband|"
    r"girlfriend|boyfriend|gf|bf|cousin|flatmate|roommate|housemate|colleague|coworker|student|niece|nephew|aunt|uncle|grandma|grandad|neighbour|neighbor|teen|teenager)\b|"
    r"\bworried (?:about|for) (?:her|him|them|someone|a friend|a member)\b|\bsomeone (?:i know|i love|close to me)\b|"
    r"\b(?:mi|nuestro|nuestra) (?:amig[oa]|mejor amig[oa]|herman[oa]|hij[oa]|madre|mama|padre|papa|pareja|espos[oa]|novi[oa]|prim[oa]|companer[oa]|alumn[oa]|sobrin[oa]|vecin[oa]|tia|tio|abuel[oa])\b|"
    r"\bme preocupa (?:mucho )?(?:mi|que|alguien|ella|el)\b|\bestoy preocupad[oa] por\b"
)
FIRST_PERSON_RISK = (
    r"\b(?:i|i am|i have|me|myself) (?:\w+ ){0,3}?(?:want to die|kill myself|end (?:it|my life)|suicidal|cut myself|hurt myself|be dead)\b|"
    r"\b(?:me quiero morir|quiero morirme|matarme|suicidarme|me corto|quitarme la vida|hacerme dano)\b"
)
# Where the learned layer alone must not reach the member (a look at most): hyperbole,
# laughter, media, clinical and awareness talk, recovery, an explicit "i am safe".
LEARNED_NEGATIVE = (
    HYPERBOLE + "|" + LAUGHTER + "|" + TOPIC + "|"
    r"\b(?:years clean|months clean|in recovery|recovered|back then|survivor|i am safe|i am not suicidal|not suicidal|i am okay now|i am ok now|"
    r"lyrics|song|novel|character|series|season|game|level|boss|respawn|patient|patients|client|clients|nurse|shift handover|ward|clinic|"
    r"jaja\w*|jeje\w*|pelicula|serie|libro|cancion|juego|personaje|paciente|pacientes|curso|taller|charla|campana|concienciacion|prevencion|"
    r"estadisticas|articulo|hace anos|me recupere|recuperacion|estoy a salvo|no estoy en peligro)\b"
)
