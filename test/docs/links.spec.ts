// Every relative link in the repository's Markdown files must lead somewhere: to a file or
// directory that exists and, with a `#anchor` into a Markdown file, to one of its headings
// (GitHub's slugs: lower case, punctuation removed, spaces to `-`, `-1`, `-2`… for repeats).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(__dirname, '../..');

/** GitHub's heading slug, before de-duplication. */
export function slugify(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** The text GitHub renders for a heading: link texts kept, code and emphasis markers dropped. */
function headingText(raw: string): string {
  return raw
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/`/g, '');
}

/** Lines outside fenced code blocks, with their 1-based numbers. */
function proseLines(markdown: string): { line: string; number: number }[] {
  const out: { line: string; number: number }[] = [];
  let fence: string | undefined;
  markdown.split('\n').forEach((line, index) => {
    const marker = /^\s*(```+|~~~+)/.exec(line)?.[1];
    if (marker) {
      if (!fence) fence = marker[0];
      else if (marker[0] === fence) fence = undefined;
      return;
    }
    if (!fence) out.push({ line, number: index + 1 });
  });
  return out;
}

/** Every anchor a Markdown file offers: heading slugs (with GitHub's -1, -2 suffixes) and HTML ids. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const { line } of proseLines(markdown)) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
    if (heading) {
      const slug = slugify(headingText(heading[1]));
      const count = seen.get(slug) ?? 0;
      seen.set(slug, count + 1);
      anchors.add(count === 0 ? slug : `${slug}-${count}`);
    }
    for (const id of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(id[1]);
  }
  return anchors;
}

/** The link targets of a Markdown file (inline links, images and reference definitions), outside code. */
export function linksOf(markdown: string): { target: string; line: number }[] {
  const links: { target: string; line: number }[] = [];
  for (const { line, number } of proseLines(markdown)) {
    const prose = line.replace(/(`+)[^`]*?\1/g, '');
    for (const match of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push({ target: match[1], line: number });
    const definition = /^ {0,3}\[[^\]]+\]:\s+<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(prose);
    if (definition) links.push({ target: definition[1], line: number });
  }
  return links;
}

function markdownFiles(): string[] {
  const listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.md'], { cwd: root, encoding: 'utf8' });
  return listed
    .split('\n')
    .filter((file) => file && existsSync(join(root, file)))
    .sort();
}

/** Problems with the relative links of one file; `[]` when every one resolves. */
function brokenLinks(file: string, anchorCache: Map<string, Set<string>>): string[] {
  const anchors = (path: string) => {
    let found = anchorCache.get(path);
    if (!found) anchorCache.set(path, (found = anchorsOf(readFileSync(path, 'utf8'))));
    return found;
  };
  const absolute = join(root, file);
  const problems: string[] = [];
  for (const { target, line } of linksOf(readFileSync(absolute, 'utf8'))) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue; // http:, mailto:, …
    const hash = target.indexOf('#');
    const path = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
    const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const destination = path === '' ? absolute : path.startsWith('/') ? join(root, path) : resolve(dirname(absolute), path);
    const where = `${file}:${line}: ${target}`;
    if (!existsSync(destination)) {
      problems.push(`${where}: no such file (${relative(root, destination)})`);
      continue;
    }
    if (anchor === undefined || !destination.endsWith('.md') || statSync(destination).isDirectory()) continue;
    if (!anchors(destination).has(anchor))
      problems.push(`${where}: ${relative(root, destination)} has no heading with the anchor #${anchor}`);
  }
  return problems;
}

describe('GitHub heading slugs', () => {
  it('lower-cases, removes punctuation and turns spaces into hyphens', () => {
    expect(slugify('Using the official Trigger.dev SDK')).toBe('using-the-official-triggerdev-sdk');
    expect(slugify('Our SDK: waiting for tokens')).toBe('our-sdk-waiting-for-tokens');
    expect(slugify('`waitpoint_tokens` — one row per token, current state'.replace(/`/g, ''))).toBe(
      'waitpoint_tokens--one-row-per-token-current-state',
    );
    expect(slugify('Watch a token (Server-Sent Events)')).toBe('watch-a-token-server-sent-events');
  });

  it('numbers repeated headings and ignores headings in code blocks', () => {
    const anchors = anchorsOf('# Tests\n\n```bash\n# Not a heading\n```\n\n## Tests\n### `npm run bench:scale`: sizes\n');
    expect([...anchors]).toEqual(['tests', 'tests-1', 'npm-run-benchscale-sizes']);
  });

  it('finds inline links and reference definitions, not code', () => {
    expect(linksOf('See [a](docs/a.md#x) and `[b](nope.md)`.\n\n```\n[c](nope.md)\n```\n[d]: ../d.md\n').map((l) => l.target)).toEqual([
      'docs/a.md#x',
      '../d.md',
    ]);
  });
});

describe('relative links in the Markdown files', () => {
  const files = markdownFiles();
  const anchorCache = new Map<string, Set<string>>();

  it('finds the Markdown files', () => {
    expect(files).toEqual(expect.arrayContaining(['README.md', 'CHANGELOG.md']));
  });

  it.each(files)('%s: every relative link and anchor resolves', (file) => {
    expect(brokenLinks(file, anchorCache)).toEqual([]);
  });
});
