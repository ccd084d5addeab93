namespace XenIac.Core.Config;

/// <summary>
/// XenIac's own bound on a domain config, in either language (xl.cfg or libxl JSON, a file or the config stored in a
/// savefile). Neither xl's parser nor libxl's has one, but every value read costs memory (its node, its text, where it
/// sits for error messages): 16 MiB of <c>a=1</c> lines took 900 MB, and 14 MB of JSON numbers 3.2 GB.
/// </summary>
public static class ConfigLimits
{
    /// <summary>
    /// Values one config may hold: every scalar and every list (xl.cfg) or object and array (JSON), nested ones
    /// included. Real domains hold hundreds; a domain of 4,096 vCPUs with a 64-entry affinity list each fits.
    /// </summary>
    public const int MaxValues = 262_144;

    /// <summary>
    /// The parts of device specs (<c>key=value</c> tokens between commas in disk=, vif=, pci= and the other device
    /// lists), counted against the same bound: one 16 MiB vif entry of 2.4 million keys was a single value to the
    /// parser and took 1.3 GB to model.
    /// </summary>
    internal static void CheckSpecParts(XlConfig xl, IEnumerable<string> keys)
    {
        long parts = 0;
        foreach (var key in keys)
            if (xl.Get(key) is XlList list)
                foreach (var item in list.Items)
                    if (item is XlString s)
                        parts += s.Text.AsSpan().Count(',') + 1;
        if (parts > MaxValues)
            throw new XlConfigException(xl.FileName, 1, 1, $"its device specs hold more than {MaxValues:N0} comma-separated parts together, XenIac's limit for one domain config");
    }

    internal static string TooMany(string language) =>
        $"the {language} holds more than {MaxValues:N0} values (settings, list items and nested values together), " +
        "XenIac's limit for one domain config";
}
