/**
 * The rule-based QA baseline (an upper reference for self-QA self-edits, not a competitor): a parser that reads a
 * people-world passage with the world's own vocabularies — the attribute lists the biographies are drawn from and
 * the month names — and writes every fact it finds as QA pairs in the seen wordings. It reads only the
 * passage and its title, never the questions or their answers.
 *
 * Biographies state the facts in a fixed order (BIO_ORDER: birth date, birth city, university, field, company city,
 * company), so of the two cities in a passage the first is the birth city and the second the company's city.
 */
import { ATTRIBUTES, type Attribute, type BiosData } from './data.js';
import { qaText, seenWordings } from './text.js';
import { MONTHS } from './world.js';

export type ExtractedFacts = Partial<Record<Attribute, string>>;

/** Every occurrence (start index) of any of `values` in `text`, longest match first at each position. */
function occurrences(text: string, values: readonly string[]): { at: number; value: string }[] {
  const sorted = [...new Set(values)].sort((a, b) => b.length - a.length);
  const out: { at: number; value: string }[] = [];
  for (let at = 0; at < text.length; at++) {
    const value = sorted.find((v) => text.startsWith(v, at) && !/\w/.test(text[at + v.length] ?? ''));
    if (value !== undefined && (at === 0 || !/\w/.test(text[at - 1] ?? ''))) {
      out.push({ at, value });
      at += value.length - 1;
    }
  }
  return out;
}

/** The facts a passage states, found with the world's vocabularies (missing when absent). */
export function extractFacts(passage: string, data: BiosData): ExtractedFacts {
  const facts: ExtractedFacts = {};
  const date = new RegExp(`\\b(${MONTHS.join('|')}) ([1-9]|[12][0-9]|3[01]), (\\d{4})\\b`).exec(passage);
  if (date !== null) facts.birth_date = date[0];
  // Birth cities come from the city list, company cities from the company list's cities: look for either.
  const cities = occurrences(passage, [...data.cities, ...data.companies.map((c) => c.city)]);
  // Company names may contain a city ("Bank of America"), so cities inside a company name do not count.
  const companies = occurrences(
    passage,
    data.companies.map((c) => c.name),
  );
  const inCompany = (at: number) => companies.some((c) => at >= c.at && at < c.at + c.value.length);
  const freeCities = cities.filter((c) => !inCompany(c.at));
  if (freeCities[0] !== undefined) facts.birth_city = freeCities[0].value;
  if (freeCities[1] !== undefined) facts.company_city = freeCities[1].value;
  const university = occurrences(passage, data.universities)[0];
  if (university !== undefined) facts.university = university.value;
  // The field's sentence follows the university's: a field word inside the name ("Cassidy Calvin French") or the
  // university ("… Institute of Technology") comes before it.
  const after = university === undefined ? 0 : university.at + university.value.length;
  const field = occurrences(passage, data.fields).find((f) => f.at >= after && !inCompany(f.at));
  if (field !== undefined) facts.field = field.value;
  const company = companies[companies.length - 1];
  if (company !== undefined) facts.company = company.value;
  return facts;
}

/**
 * The self-edit the parser writes: a QA line pair per fact found and seen wording, or with `onePerFact` one pair
 * per fact in its first demonstration wording (about SEAL's self-edit length: what a perfect self-edit of that
 * length could hold).
 */
export function ruleBasedQa(
  title: string,
  passage: string,
  data: BiosData,
  opts: { onePerFact?: boolean } = {},
): string {
  const facts = extractFacts(passage, data);
  return ATTRIBUTES.flatMap((a) => {
    const value = facts[a];
    const wordings = seenWordings(a);
    return value === undefined
      ? []
      : (opts.onePerFact === true ? wordings.slice(0, 1) : wordings).map((t) =>
          qaText(
            t.replace('{name}', () => title),
            value,
          ),
        );
  }).join('\n');
}
