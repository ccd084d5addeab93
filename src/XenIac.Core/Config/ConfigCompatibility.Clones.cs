using System.Text.RegularExpressions;

namespace XenIac.Core.Config;

public static partial class ConfigCompatibility
{
    /// <summary>
    /// The check for a clone's config: the same rules, except for what <paramref name="fixups"/> declares. A new
    /// MAC is then a warning (the guest resumes with a NIC whose address changed under it: its network stack may
    /// need to notice), a new name, redirected disk and fresh generation ID are ok. Anything the fixups do not
    /// declare keeps its normal severity, so a clone config that also changes, say, memory is still refused.
    /// </summary>
    public static IReadOnlyList<CompatibilityFinding> Check(DomainConfig saved, DomainConfig proposed, CloneFixups? fixups)
    {
        var findings = Check(saved, proposed);
        if (fixups is null) return findings;
        var result = new List<CompatibilityFinding>();
        var genIdLeaves = 0;
        foreach (var f in findings)
        {
            if (fixups.NewVmGenId && IsVmGenId(f.Setting))
            {
                // libxl JSON spells the ID as 16 leaves; one finding says it.
                if (f.Setting != CloneFixups.VmGenIdSetting && genIdLeaves++ > 0) continue;
                result.Add(new CompatibilityFinding(FindingSeverity.Ok, CloneFixups.VmGenIdSetting,
                    f.Setting == CloneFixups.VmGenIdSetting ? f.Old : null, f.Setting == CloneFixups.VmGenIdSetting ? f.New : "(16 new bytes)",
                    "a clone fixup: a fresh VM generation ID tells the guest it was cloned so it can reseed"));
                continue;
            }
            var m = VifMac().Match(f.Setting);
            if (fixups.NewMacs && m.Success)
                result.Add(f with { Severity = FindingSeverity.Warning, Reason = "a clone fixup: the guest sees a new NIC address; its network stack may keep the old one until it notices" });
            else if (f.Setting == "name")
                result.Add(f with { Severity = FindingSeverity.Ok, Reason = "a clone fixup: each clone runs under its own name" });
            else if ((fixups.DiskPattern is not null || fixups.DiskTargets is not null) && DiskTarget().IsMatch(f.Setting))
                result.Add(f with { Severity = FindingSeverity.Ok, Reason = f.Setting.EndsWith(".format", StringComparison.Ordinal)
                    ? "a clone fixup: the clone writes to its own qcow2 overlay of the disk"
                    : "a clone fixup: the clone writes to its own copy of the disk" });
            else
                result.Add(f);
        }
        return result;
    }

    private static bool IsVmGenId(string setting) =>
        setting == CloneFixups.VmGenIdSetting || setting.StartsWith("json:b_info.type.hvm.ms_vm_genid", StringComparison.Ordinal);

    [GeneratedRegex(@"^vif\[\d+\]\.mac$")]
    private static partial Regex VifMac();

    [GeneratedRegex(@"^disk\[\d+\]\.(target|format)$")]
    private static partial Regex DiskTarget();
}
