using XenIac.Reconciler.Manifests;

namespace XenIac.Reconciler.Planning;

/// <summary>
/// What <c>--target</c> and <c>--replace</c> select: a domain name, a glob over names (<c>web-*</c>, <c>db?</c>) or a
/// label selector (<c>label:rack=a</c>, <c>label:rack=a,tier!=db</c>, <c>label:backup</c> for "has the label").
/// Several targets select the union. A target that selects nothing is an error: a typo must not shrink an apply
/// to nothing (or, for --replace, silently replace nothing).
/// </summary>
public static class Targets
{
    public const string LabelPrefix = "label:";

    /// <summary>The manifest's domains that <paramref name="targets"/> select, in manifest order; every domain when there are none.</summary>
    /// <exception cref="ManifestException">A target selects no domain, or a label selector is malformed.</exception>
    public static IReadOnlyList<DomainSpec> Select(Manifest manifest, IReadOnlyCollection<string>? targets, string option = "--target")
    {
        ArgumentNullException.ThrowIfNull(manifest);
        if (targets is null || targets.Count == 0) return manifest.Domains;
        var selected = new HashSet<string>(StringComparer.Ordinal);
        var empty = new List<string>();
        // A plain name is looked up, not matched against every domain: a --target per domain stays linear.
        HashSet<string>? domainNames = null;
        foreach (var target in targets)
        {
            // `--target "$NAME"` with NAME unset: not a domain nobody is called, a mistake.
            if (string.IsNullOrWhiteSpace(target)) throw Error(manifest, $"{option} is empty: give a domain name, a glob (web-*) or label:key=value");
            if (!target.StartsWith(LabelPrefix, StringComparison.Ordinal) && target.AsSpan().IndexOfAny('*', '?') < 0)
            {
                domainNames ??= manifest.Domains.Select(d => d.Name).ToHashSet(StringComparer.Ordinal);
                if (domainNames.Contains(target)) selected.Add(target);
                else empty.Add(target);
                continue;
            }
            var matcher = Matcher(manifest, target, option);
            var any = false;
            foreach (var d in manifest.Domains.Where(matcher))
            {
                selected.Add(d.Name);
                any = true;
            }
            if (!any) empty.Add(target);
        }
        if (empty.Count > 0)
        {
            var names = manifest.Domains.Select(d => d.Name).ToList();
            var known = names.Count == 0 ? "it has no domains" : $"its domains: {string.Join(", ", names.Take(8))}{(names.Count > 8 ? $", … ({names.Count} in all)" : "")}";
            throw Error(manifest, $"{option} {(empty.Count == 1 ? "selects" : "select")} no domain of the manifest: {string.Join(", ", empty)} ({known})");
        }
        return manifest.Domains.Where(d => selected.Contains(d.Name)).ToList();
    }

    private static Func<DomainSpec, bool> Matcher(Manifest manifest, string target, string option)
    {
        if (target.StartsWith(LabelPrefix, StringComparison.Ordinal))
        {
            var selector = LabelSelector.TryParse(target[LabelPrefix.Length..])
                ?? throw Error(manifest, $"{option} '{target}' is not a label selector: write label:key=value, label:key!=value or label:key, joined by commas");
            return d => selector.Matches(d.Labels);
        }
        if (target.AsSpan().IndexOfAny('*', '?') >= 0) return d => Glob(target, d.Name);
        return d => d.Name == target;
    }

    /// <summary>
    /// Shell-style glob: <c>*</c> any run of characters, <c>?</c> one. Iterative with one backtrack point, so it is
    /// linear-ish whatever the pattern (no regex, no exponential backtracking on <c>*a*a*a*b</c>).
    /// </summary>
    public static bool Glob(string pattern, string name)
    {
        int p = 0, n = 0, star = -1, mark = 0;
        while (n < name.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == name[n]))
            {
                p++;
                n++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = n;
            }
            else if (star >= 0)
            {
                p = star + 1;
                n = ++mark;
            }
            else return false;
        }
        while (p < pattern.Length && pattern[p] == '*') p++;
        return p == pattern.Length;
    }

    /// <summary>An option's problem with the manifest as a whole: no line of it is wrong.</summary>
    private static ManifestException Error(Manifest manifest, string message) =>
        new([new ManifestError(new SourceLocation(manifest.Path, 0, 0), message)]);
}
